"""core/batch over real loopback HTTP: items from folders and CSV files, parameters from text,
concurrency, per-item failures, exit codes, resumable state, Ctrl-C, and never paying twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from tests.standin.model import price as standin_price
from yvo3d_addon.core import batch as batch_module
from yvo3d_addon.core import errors, owners
from yvo3d_addon.core.assets import check_glb
from yvo3d_addon.core.batch import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_SERVICE,
    EXIT_USER,
    STATE_FILE,
    Item,
    Run,
    StateFile,
    Status,
    assign_outputs,
    exit_code,
    find_param,
    items_from_csv,
    items_from_folder,
    kebab,
    load_items,
    parse_settings,
    parse_value,
)
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.store import JobRecord, JobStore

FAST_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.2, overall_timeout=60)


def client_for(server, wait=None):
    return ScenarioClient(
        server.base_url,
        server.api_key,
        server.api_secret,
        retry=RetryPolicy(attempts=3, base=0.01, cap=0.05),
        timeout=(2.0, 5.0),
        wait=wait,
    )


def make_manager(server, root):
    """A manager as one process of the command line would have it (store and library on disk)."""
    store = JobStore(os.path.join(root, "jobs.sqlite"))
    library = Library(os.path.join(root, "library"))
    return JobManager(store, library, lambda wait: client_for(server, wait), poll=FAST_POLL)


def write_png(path, seed):
    path.write_bytes(png_bytes(96, 96, pixel=lambda x, y: (seed * 40 % 256, x, y)))
    return str(path)


@pytest.fixture
def folder(tmp_path):
    """Four distinct good images, one that is not an image, and a file that is not a picture."""
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(4):
        write_png(src / f"p{i}.png", i)
    (src / "p4.png").write_bytes(b"this is not an image")
    (src / "notes.txt").write_text("ignored")
    return src


class Lines(list):
    def __call__(self, line):
        self.append(line)


def start_run(manager, items, out, **kw):
    assign_outputs(items, str(out))
    state = StateFile(os.path.join(out, STATE_FILE))
    return Run(manager, items, emit=Lines(), state=state, **kw)


def close(manager):
    assert manager.shutdown(5.0) == []
    manager.store.close()


# -- parameters from text ------------------------------------------------------------------------


def test_parameter_names_in_every_spelling():
    assert kebab("textureResolution") == "texture-resolution"
    assert kebab("generateUvs") == "generate-uvs"
    assert kebab("texture") == "texture"
    for spelling in ("textureResolution", "texture-resolution", "texture_resolution", "TEXTURE"):
        assert find_param(DEFAULT_TABLE, spelling) is not None
    assert find_param(DEFAULT_TABLE, "colour") is None


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("texture", "off", False),
        ("texture", "Yes", True),
        ("hyperMode", "on", True),
        ("hyperMode", "0", False),
        ("textureResolution", "2k", "2K"),
        ("modelGenerator", "ultima prime", "ULTIMA_PRIME"),
        ("modelGenerator", "fast", "FAST_TRUE"),
        ("polycount", "50000", 50000),
        ("polycount", "5e4", 50000),
        ("realismLevel", "0.5", 0.5),
    ],
)
def test_values_from_text(name, text, value):
    got = parse_value(DEFAULT_TABLE.params[name], text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("texture", "maybe", "on or off"),
        ("textureResolution", "8K", "1K, 2K, 4K"),
        ("polycount", "many", "a number"),
        ("creativity", "2.5", "whole number"),
    ],
)
def test_unreadable_values_say_what_is_allowed(name, text, words):
    with pytest.raises(errors.InputError) as info:
        parse_value(DEFAULT_TABLE.params[name], text)
    assert words in info.value.message and name in info.value.message


def test_settings_from_text_skip_empty_and_refuse_unknown_names():
    settings = parse_settings(DEFAULT_TABLE, {"texture-resolution": "4K", "creativity": " "})
    assert settings == {"textureResolution": "4K"}
    with pytest.raises(errors.InputError, match="not a parameter"):
        parse_settings(DEFAULT_TABLE, {"colour": "red"})


# -- items ---------------------------------------------------------------------------------------


def test_folder_items_are_images_by_extension_sorted(folder):
    items = items_from_folder(str(folder), {"creativity": 2})
    assert [i.key for i in items] == ["p0.png", "p1.png", "p2.png", "p3.png", "p4.png"]
    assert all(i.settings == {"creativity": 2} and len(i.images) == 1 for i in items)
    with pytest.raises(errors.InputError, match="no images"):
        items_from_folder(str(folder / ".."), {})


def test_csv_rows_with_views_names_and_parameters(tmp_path, folder):
    sheet = tmp_path / "jobs.csv"
    sheet.write_text(
        "image,name,textureResolution,polycount\n"
        f"{folder}/p0.png,Chair,2K,\n"
        "photos/p1.png;photos/p2.png,Lamp,,20000\n"
        "photos/p3.png,,maybe-4K,\n"
        ",Nothing,,\n"
        "photos/p3.png,Chair,,\n",
        encoding="utf-8",
    )
    items = items_from_csv(str(sheet), DEFAULT_TABLE, {"creativity": 1})
    chair, lamp, bad, empty, dup = items
    assert (chair.key, chair.name, chair.settings) == (
        "Chair",
        "Chair",
        {"creativity": 1, "textureResolution": "2K"},
    )
    assert lamp.images == [str(folder / "p1.png"), str(folder / "p2.png")]  # relative to the CSV
    assert lamp.settings == {"creativity": 1, "polycount": 20000}
    assert "row 4" in bad.problem and "textureResolution" in bad.problem
    assert bad.key == "p3.png" and bad.name == "p3"
    assert "names no image" in empty.problem
    assert dup.key == "Chair#2"
    assign_outputs(items, str(tmp_path / "out"))
    assert [os.path.basename(i.output) for i in items] == [
        "Chair.glb",
        "Lamp.glb",
        "p3.glb",
        "Nothing.glb",
        "Chair-2.glb",
    ]


def test_csv_with_an_unknown_column_or_no_image_column_is_refused(tmp_path):
    sheet = tmp_path / "a.csv"
    sheet.write_text("image,colour\na.png,red\n")
    with pytest.raises(errors.InputError, match="colour"):
        load_items(str(sheet), DEFAULT_TABLE, {})
    sheet.write_text("picture\na.png\n")
    with pytest.raises(errors.InputError, match="'image' column"):
        load_items(str(sheet), DEFAULT_TABLE, {})
    with pytest.raises(errors.InputError, match="neither a folder nor a CSV"):
        load_items(str(tmp_path / "missing"), DEFAULT_TABLE, {})


# -- exit codes ----------------------------------------------------------------------------------


def _items(*pairs):
    return [
        Item(key=str(n), name=str(n), images=[], settings={}, status=s, error_kind=k)
        for n, (s, k) in enumerate(pairs)
    ]


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ([(Status.DONE, "")] * 2, EXIT_OK),
        ([(Status.DONE, ""), (Status.FAILED, "user")], EXIT_PARTIAL),
        ([(Status.DONE, ""), (Status.FAILED, "service")], EXIT_PARTIAL),
        ([(Status.FAILED, "user"), (Status.FAILED, "user")], EXIT_USER),
        ([(Status.FAILED, "user"), (Status.UNKNOWN, "service")], EXIT_SERVICE),
        ([(Status.RUNNING, "service")], EXIT_SERVICE),
    ],
)
def test_exit_codes(pairs, code):
    assert exit_code(_items(*pairs)) == code
    assert exit_code(_items(*pairs), interrupted=True) == EXIT_INTERRUPTED


def test_dry_run_exit_code_counts_priced_items_as_fine():
    items = _items((Status.PENDING, ""), (Status.DONE, ""))
    assert exit_code(items, dry_run=True) == EXIT_OK
    assert exit_code(items + _items((Status.FAILED, "user")), dry_run=True) == EXIT_PARTIAL


# -- runs over the stand-in ----------------------------------------------------------------------


def test_batch_limits_concurrency_isolates_failures_and_resumes(standin, tmp_path, folder):  # noqa: F811
    standin.job_seconds = 0.4
    standin.script_job(outcome="failure", error="Too blurry.", hint="Use a sharper photo.")
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})
    run = start_run(manager, items, out, concurrency=2)
    most = [0]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            most[0] = max(most[0], len(manager.running()))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    to_send = run.plan()
    assert [i.key for i in to_send] == ["p0.png", "p1.png", "p2.png", "p3.png"]
    total = run.price(to_send, lambda: client_for(standin))
    assert total == 4 * standin_price({"images": ["x"], "texture": True})
    run.run(to_send, timeout=60)
    sampling.set()
    sampler.join()

    assert most[0] == 2, "two jobs at a time, never more"
    by_key = {i.key: i for i in items}
    bad = by_key["p4.png"]
    assert (bad.status, bad.error_kind, bad.paid) == (Status.FAILED, "user", False)
    assert "not an image" in bad.error
    failed = [i for i in items if i.status == Status.FAILED and i.paid]
    assert len(failed) == 1 and failed[0].error == "Too blurry."
    assert failed[0].error_kind == "service" and failed[0].hint == "Use a sharper photo."
    done = [i for i in items if i.status == Status.DONE]
    assert len(done) == 3
    for item in done:
        check_glb(item.output)
        assert item.job_id.startswith("job_") and item.cost == 40
    assert exit_code(items) == EXIT_PARTIAL
    assert standin.paid_requests == 4
    saved = json.loads((out / STATE_FILE).read_text())["items"]
    assert {k: v["status"] for k, v in saved.items()} == {i.key: i.status for i in items}
    assert all(saved[i.key]["job_id"] == i.job_id for i in items)
    close(manager)

    # A new process: the bad image was fixed. Only it is sent; the failed paid one is not.
    write_png(folder / "p4.png", 9)
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})
    run = start_run(manager, items, out, concurrency=2)
    to_send = run.plan()
    assert [i.key for i in to_send] == ["p4.png"]
    assert {i.key: i.note for i in items if i.status == Status.DONE}.keys() == {i.key for i in done}
    run.run(to_send, timeout=60)
    assert standin.paid_requests == 5, "exactly one paid request per image"
    assert exit_code(items) == EXIT_PARTIAL
    assert sum(i.status == Status.DONE for i in items) == 4
    close(manager)

    # Asked explicitly, the failed one is sent again and the batch completes.
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})
    run = start_run(manager, items, out, retry_failed=True)
    to_send = run.plan()
    assert [i.key for i in to_send] == [failed[0].key]
    run.run(to_send, timeout=60)
    assert exit_code(items) == EXIT_OK
    assert standin.paid_requests == 6
    close(manager)


def test_a_killed_run_is_followed_again_not_paid_again(standin, tmp_path, folder):  # noqa: F811
    standin.job_seconds = 3.0
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:2]
    run = start_run(manager, items, out, concurrency=2)
    run.run(run.plan(), timeout=1.0)
    # The process dies here: nobody follows the jobs any more; the state file has their ids.
    manager.shutdown(5.0)
    manager.store.close()
    assert all(i.status == Status.RUNNING and i.job_id for i in items), [
        (i.status, i.job_id) for i in items
    ]
    assert standin.paid_requests == 2 and standin.count("cancel") == 0

    standin.reset()
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:2]
    run = start_run(manager, items, out, concurrency=2)
    assert run.plan() == [], "nothing is sent again"
    run.run([], timeout=60)
    assert [i.status for i in items] == [Status.DONE, Status.DONE]
    assert standin.paid_requests == 0
    close(manager)


def test_ctrl_c_saves_the_state_and_leaves_paid_jobs_running(standin, tmp_path, folder):  # noqa: F811
    """Real API: Scenario refuses to cancel custom jobs such as YVO3D's (400 "Cannot cancel
    this type of job. Action not permitted.", scenario_sdk resources/jobs.py `trigger_action`:
    only inference jobs). So Ctrl-C sends no cancel: paid jobs keep running, the state file
    says so, and the rest stays pending (the old test expected two accepted cancels)."""
    standin.script_job(outcome="never")
    standin.script_job(outcome="never")
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:3]
    run = start_run(manager, items, out, concurrency=2, grace=10)
    to_send = run.plan()
    worker = threading.Thread(target=run.run, args=(to_send,))
    worker.start()
    deadline = time.monotonic() + 20
    while sum(bool(i.job_id) for i in items) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    run.stop.set()
    worker.join(15)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5, "no waiting for jobs that cannot be cancelled"
    assert run.interrupted and exit_code(items, run.interrupted) == EXIT_INTERRUPTED
    statuses = sorted(i.status for i in items)
    assert statuses == [Status.PENDING, Status.RUNNING, Status.RUNNING]
    assert all("re-run to follow it" in i.note for i in items if i.job_id)
    assert standin.count("cancel") == 0
    assert all(standin.job(i.job_id)["status"] != "canceled" for i in items if i.job_id)
    assert standin.paid_requests == 2
    close(manager)


def test_dry_run_prices_and_changes_nothing(standin, tmp_path, folder):  # noqa: F811
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {"textureResolution": "4K"})
    run = start_run(manager, items, out, dry_run=True)
    to_send = run.plan()
    total = run.price(to_send, lambda: client_for(standin))
    assert total == 4 * 70
    assert [i.price for i in items[:4]] == [70] * 4
    assert standin.count("estimate") == 1, "one dry run per distinct parameter set"
    assert standin.paid_requests == 0
    assert exit_code(items, dry_run=True) == EXIT_PARTIAL  # the bad image
    assert not out.exists(), "no output, no state file"
    close(manager)


def test_identical_request_is_reused_from_the_library_for_free(standin, tmp_path, folder):  # noqa: F811
    standin.job_seconds = 0.3
    manager = make_manager(standin, str(tmp_path / "user"))
    first = Item("a", "a", [str(folder / "p0.png")], {}, output=str(tmp_path / "a.glb"))
    run = Run(manager, [first], service=standin.base_url)
    run.run(run.plan(), timeout=30)
    assert first.status == Status.DONE and standin.paid_requests == 1
    again = Item("b", "b", [str(folder / "p0.png")], {}, output=str(tmp_path / "b.glb"))
    run = Run(manager, [again], service=standin.base_url)
    assert run.plan() == []
    assert again.status == Status.DONE and again.reused and again.cost == 0
    assert open(again.output, "rb").read() == open(first.output, "rb").read()
    other = Item("c", "c", [str(folder / "p0.png")], {}, output=str(tmp_path / "c.glb"))
    assert Run(manager, [other], service="https://elsewhere.example/v1").plan() == [other]
    forced = Item("d", "d", [str(folder / "p0.png")], {}, output=str(tmp_path / "d.glb"))
    run = Run(manager, [forced], force=True)
    run.run(run.plan(), timeout=30)
    assert forced.status == Status.DONE and not forced.reused
    assert standin.paid_requests == 2
    close(manager)


def test_a_crash_during_the_paid_request_is_never_sent_again(standin, tmp_path, folder):  # noqa: F811
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:1]
    assign_outputs(items, str(out))
    # What a process killed mid-request leaves: the store says "submitting" with no job id,
    # and the state file had not yet learnt that anything was paid.
    record = JobRecord(id="yj_crashed", name="p0", stage=Stage.SUBMITTING, images=items[0].images)
    manager.store.put(record)
    close(manager)
    StateFile(str(out / STATE_FILE)).save(
        [Item(items[0].key, "p0", items[0].images, {}, output=items[0].output, local_id=record.id)]
    )
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:1]
    run = start_run(manager, items, out)
    assert run.plan() == []
    run.run([], timeout=30)
    assert items[0].status == Status.UNKNOWN and items[0].error_kind == "service"
    assert "unknown" in items[0].error.lower()
    assert standin.paid_requests == 0
    assert exit_code(items) == EXIT_SERVICE
    close(manager)


def test_a_damaged_state_file_is_a_user_error(tmp_path):
    path = tmp_path / STATE_FILE
    path.write_text("{not json")
    with pytest.raises(errors.InputError, match="damaged"):
        StateFile(str(path))


def test_a_refused_paid_request_paid_nothing_and_is_sent_on_the_next_run(standin, tmp_path, folder):  # noqa: F811
    standin.job_seconds = 0.3
    standin.fault("generate", status=402)
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:1]
    run = start_run(manager, items, out)
    run.run(run.plan(), timeout=30)
    (item,) = items
    assert (item.status, item.paid, item.error_kind) == (Status.FAILED, False, "service")
    assert "credits" in item.error.lower()
    assert exit_code(items) == EXIT_SERVICE
    close(manager)

    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})[:1]
    run = start_run(manager, items, out)
    run.run(run.plan(), timeout=30)
    assert items[0].status == Status.DONE
    assert standin.paid_requests == 2  # the refused one and the one that ran
    close(manager)


def test_following_a_job_interrupted_before_payment_ends_it_without_waiting(standin, tmp_path):  # noqa: F811
    manager = make_manager(standin, str(tmp_path / "user"))
    record = JobRecord(id="yj_early", name="early", stage=Stage.UPLOADING)
    manager.store.put(record)
    close(manager)
    manager = make_manager(standin, str(tmp_path / "user"))
    item = Item("early", "early", [], {}, status=Status.RUNNING, local_id="yj_early", paid=True)
    run = Run(manager, [item])
    started = time.monotonic()
    run.run(run.plan(), timeout=30)
    assert time.monotonic() - started < 5
    assert (item.status, item.paid) == (Status.FAILED, False)
    assert "nothing was paid" in item.error.lower()
    assert standin.paid_requests == 0
    close(manager)


def test_a_price_check_that_started_a_paid_job_is_followed_and_nothing_more_is_sent(
    standin,  # noqa: F811
    tmp_path,
    folder,
):
    # A service (or proxy) that ignores dryRun: the first item's price check starts a paid
    # job. That job is the item's own request: it is followed to the end and its model kept.
    # Every other price check would start another paid job: none is sent, and no generate.
    standin.ignore_dry_run = True
    out = tmp_path / "out"
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})
    run = start_run(manager, items, out)
    to_send = run.plan()
    run.price(to_send, lambda: client_for(standin))
    assert standin.paid_requests == 1 and standin.count("generate") == 1
    first, *rest = to_send
    assert first.paid and first.status == Status.RUNNING and first.job_id == standin.job_ids()[0]
    assert all(i.status == Status.FAILED and not i.paid for i in rest)
    assert all("price check of p0.png started a paid job" in i.error for i in rest)
    assert any("followed as this item's job" in line for line in run.emit)
    assert run.paid_by_price_check == first.job_id  # the command line's `paid` says so
    run.run([i for i in to_send if i.status == Status.PENDING], timeout=60)
    assert first.status == Status.DONE and first.cost == 40
    check_glb(first.output)
    assert standin.paid_requests == 1, "nothing more was sent"
    close(manager)

    # Fixed service, next run: the paid item is not sent again (its result is in the library
    # under its request's fingerprint); the others are priced and sent once each.
    standin.ignore_dry_run = False
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})
    run = start_run(manager, items, out)
    to_send = run.plan()
    assert [i.key for i in to_send] == [i.key for i in rest]
    run.price(to_send, lambda: client_for(standin))
    run.run(to_send, timeout=60)
    assert sum(i.status == Status.DONE for i in items) == 4
    assert standin.paid_requests == 4, "one paid request per image, the first one included"
    close(manager)


def test_a_dry_run_whose_price_check_was_paid_says_so_and_keeps_the_job(
    standin,  # noqa: F811
    tmp_path,
    folder,
):
    # `--dry-run` promises nothing paid; a service that ignores dryRun breaks the promise.
    # The run says it paid, and the job is in the job store under the request's fingerprint:
    # followed, never lost, and a real run never pays for that request again.
    standin.ignore_dry_run = True
    manager = make_manager(standin, str(tmp_path / "user"))
    items = items_from_folder(str(folder), {})
    run = start_run(manager, items, tmp_path / "out", dry_run=True)
    to_send = run.plan()
    run.price(to_send, lambda: client_for(standin))
    first = to_send[0]
    assert run.paid_by_price_check == first.job_id == standin.job_ids()[0]
    kept = manager.get(first.local_id)
    assert kept is not None and kept.fingerprint == first.fingerprint and kept.cost == 40
    assert standin.paid_requests == 1
    close(manager)


def test_a_state_lock_left_by_a_killed_run_is_broken_at_once(tmp_path):
    # A batch killed while writing its state file leaves its lock file behind. The re-run
    # (the way to follow its paid jobs) must not wait a minute and then fail "locked by
    # another run": the lock names its owner, and that process is gone.
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    lock = tmp_path / "yvo3d-batch.json.lock"
    lock.write_text(f"{owners.me().split(':')[0]}:{int(gone.stdout)}")
    started = time.monotonic()
    with batch_module._exclusive(str(lock), wait=5.0):
        assert lock.read_text() == owners.me()  # now ours
    assert time.monotonic() - started < 1.0 and not lock.exists()

    # A live owner's lock is waited for, then refused with the reason (nothing is broken).
    lock.write_text(owners.me())
    with pytest.raises(errors.InputError, match="locked by another run"):
        with batch_module._exclusive(str(lock), wait=0.2):
            pass
    assert lock.read_text() == owners.me()
