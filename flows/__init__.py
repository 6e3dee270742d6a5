"""Deployable Prefect flows: each file is one flow that orchestrates tonghop's steps."""
