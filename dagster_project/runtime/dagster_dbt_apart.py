"""dagster-dbt, imported without dbt-core in this process.

dagster-dbt imports dbt-core when it finds it (`dagster_dbt.compat`): about 560 more modules
(dbt's, dbt-common's, agate's), with mashumaro compiling dbt's dataclasses, 1.2-1.3 s of one
core in every process that loads the definitions (`firewatch run`, the code location, each run
the daemon starts). The pipeline never runs dbt in that process: dbt runs as its own program
and the dbt step reads its output. Hidden from it, dagster-dbt takes the path it has for a dbt
installed as a program apart (dbt Fusion): the same assets, checks and dependencies from the
same manifest, and the same events read from dbt's output (tests/unit/test_dagster_dbt_apart.py
compares both). `VenvDbtCliResource` tells it the engine is dbt-core of the installed version,
so the dbt-core code paths of its event reading stay the ones taken.

Without dbt-core dagster-dbt evaluates only the default selection (every node of the
manifest); a `select=`/`exclude=` on `dbt_assets` or a `build_dbt_asset_selection` would raise
`DagsterDbtCoreNotInstalledError` when the definitions load, and would need dbt-core imported
first (or the selection written as asset keys).

Import dagster-dbt's names from here. If dagster-dbt or dbt-core is already loaded (a test that
imported either first), dagster-dbt is left as it is.
"""

import sys
from importlib.metadata import version

from packaging.version import Version

if "dagster_dbt" not in sys.modules and "dbt" not in sys.modules:
    sys.modules["dbt"] = None  # type: ignore[assignment]  # `import dbt…` raises ImportError
    try:
        import dagster_dbt  # noqa: F401
    finally:
        del sys.modules["dbt"]  # dbt imports normally again for whoever needs it here
    from dagster_shared.libraries import DagsterLibraryRegistry

    # dagster-dbt names the engine it did not find "dbt-fusion, unknown" in the versions
    # Dagster reports; the engine is the installed dbt-core.
    DagsterLibraryRegistry._libraries.pop("dbt-fusion", None)
    dbt_core = Version(version("dbt-core")).base_version  # as dagster-dbt registers it
    DagsterLibraryRegistry.register("dbt-core", dbt_core, is_dagster_package=False)

from dagster_dbt import (  # noqa: E402
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

__all__ = [
    "DagsterDbtTranslator",
    "DagsterDbtTranslatorSettings",
    "DbtCliResource",
    "DbtProject",
    "dbt_assets",
]
