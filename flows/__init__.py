"""Deployable Prefect flows, installed as `tonghop.flows`: each file but `tasks.py` is one flow
that orchestrates the tasks of `tasks.py`."""
