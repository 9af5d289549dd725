"""Dagster assets: the raw loader and the dbt project."""
