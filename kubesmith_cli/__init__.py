"""kubesmith's command line: each subcommand runs one of the project's playbooks through ansible-runner.

The playbooks hold all the logic; this package only picks the playbook, checks the inventory,
passes ansible-playbook's options through, shows progress and sums the run up. AWX and Ansible
Automation Platform run the same playbooks without it.
"""

__version__ = "0.1.0"

# Exit codes (also in `kubesmith --help`).
OK = 0
ERROR = 1  # ansible-playbook or ansible-runner failed in a way not listed below
BAD_INPUT = 2  # bad arguments, inventory or playbook; nothing ran on a host
NOT_BUILT = 3  # the subcommand's playbook does not exist yet
FAILED = 4  # a task failed on at least one host
UNREACHABLE = 5  # a host could not be reached (and no task failed)
INTERRUPTED = 130  # stopped with Ctrl-C
