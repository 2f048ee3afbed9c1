from novalgo.cli import main

main()
