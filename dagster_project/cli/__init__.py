"""The `firewatch` command line: argparse front ends that call the layers below and print."""
