"""Fault injection for nightly runs: `firewatch run` killed with SIGKILL at chosen points of a
night, recovered, and checked that nothing people entered or BI tools read was lost or torn.

One campaign (`make reliability`, through bench/reliability.py: 24 kills;
tests/e2e/test_fault_injection.py: 4, stacked):

1. a landing folder from the generator (`small`, four scenarios, so the queue has items all
   through the nights used), split so that the history ends on the first night and every later
   night adds one day file of web events and ads (as a real night does);
2. a first good run, then decisions entered through the CLI (`firewatch acknowledge|snooze|
   decide|dismiss`);
3. per kill: (mostly) one more day landed, `firewatch run` started in its own process group,
   killed with SIGKILL (the whole group: dbt runs as a child) when its target comes: a
   uniformly random moment of a measured run, or a phase seen from outside the run, from its
   progress lines on stderr (the load, the k-th model of either dbt build), the DuckDB file
   lock's holder (F_GETLK, which takes no lock: the load's write, the alerts' write, the steps
   after it) and the BI copy's temporary file (the publish). The step it died in is read
   afterwards from the run's own Dagster event log. Decisions are entered after some kills and
   during some runs (they wait for the run, and say so);
4. after each kill, checks of the crashed state (no process or lock left, the BI copy whole and
   the last good run's, every decision there), then a recovery run of the same night without a
   kill (or, stacked, the next killed run first), and its checks: exit 0, the dbt build
   without an error or a skip, the BI copy a complete copy of this run (as of the night, every
   table's rows as in the warehouse), no temporary copy left, every decision entered so far in
   the log exactly once and folded into the queue;
5. at the end `dbt test` on the warehouse and a fresh build of the same landing folder, whose
   marts must equal the crashed-and-recovered warehouse's row for row.

The modules, each importing only those above it:

- `env`: the project's paths and the private environment of every process started;
- `landing`: the generated landing folder, split into the history and one day file per night;
- `watch`: a run in its own process group, watched from outside and killed; the lock probes;
- `decisions`: queue verbs entered through the CLI, chosen among the legal ones;
- `checks`: the BI copy as a reader sees it, the decision log against the queue, dbt's tallies;
- `kill_points`: the kill targets, when one is due, and the step a run died in;
- `results`: what a kill and a whole campaign recorded;
- `recovery`: the checks of the crashed state and of the recovery run;
- `harness`: one warehouse, landing folder and Dagster home, run after run;
- `campaign`: the campaign runner, and the comparison with a fresh build;
- `suites`: pytest on the other reliability suites;
- `inputs`: the small valid landing folder of the bad-input matrix, and the shape of a case;
- `bad_input_cases`: the matrix, each case one broken thing and the outcome it must have;
- `bad_input`: a case loaded and compared with what it states;
- `report`: docs/reliability.md.

Nothing else in dagster_project imports this package; it drives the pipeline from outside, as
separate processes, the way the scheduler and people do (the bad-input matrix calls the loader
in this process: it is about what the loader says, not about processes).
"""
