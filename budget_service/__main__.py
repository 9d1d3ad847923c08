from budget_service.server import main

main()
