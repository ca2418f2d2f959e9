"""The test kit: a fake engine and in-process runs of steps and recipes, for the unit
tests of corpora and of the platform.

    engine = FakeEngine(generate=lambda request: '{"verdict": "keep"}')
    run = run_recipe(MyRecipe(), MyConfig(...), engine)
    assert run.read == run.tables["main"].num_rows + len(run.quarantined)

A fake answers by handlers; it checks parsing and control flow, never generation (see
engine.py). Platform code: nothing here imports a corpus.
"""

from corpusforge.testkit.engine import FakeEngine
from corpusforge.testkit.run import RecipeRun, run_recipe, run_row, run_steps

__all__ = ["FakeEngine", "RecipeRun", "run_recipe", "run_row", "run_steps"]
