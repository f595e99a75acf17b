"""The pytest processes of a cell. The host side starts them (pytest_run, reruns, progress, slots, threads,
procgroup, fork_client); the rest runs inside them, in the cell's environment, on the harness's behalf:
the plug-ins (recorder, hang_guard, attribution, forked_workers), the fork server and isolation. Only those
import torch or pytest; the suites import the harness, never the other way round."""
