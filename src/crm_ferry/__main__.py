from crm_ferry.cli import main

main()
