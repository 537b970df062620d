from llmkube.cli import main

main()
