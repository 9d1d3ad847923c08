from router_service.server import main

main()
