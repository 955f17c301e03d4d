"""library/kubeadm_token.py through the harness, fed with `kubeadm token` outputs from
tests/unit/fixtures/kubeadm/ at a fixed clock; every argv is asserted."""

import json
from datetime import UTC, datetime

import kubeadm_token
import pytest
from fixtures.kubeadm.outputs import ALL_TOKENS, CREATED_TOKEN, FOREVER_TOKEN, JOIN_TOKEN, TOKEN, load
from module_harness import TIMEOUT, fake_bin_paths
from module_harness import bounded as timeout

KUBEADM = "/usr/bin/kubeadm"
GROUPS = "system:bootstrappers:kubeadm:default-node-token"
NOW = datetime(2026, 11, 28, 7, 20, tzinfo=UTC)  # JOIN_TOKEN has 50 min left


def bounded(*argv, seconds=60):
    return timeout(seconds, KUBEADM, "token", *argv)


@pytest.fixture(autouse=True)
def binaries(monkeypatch):
    return fake_bin_paths(monkeypatch, {"kubeadm": KUBEADM, "timeout": TIMEOUT})


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    class Clock:
        now = NOW

    monkeypatch.setattr(kubeadm_token, "utcnow", lambda: Clock.now)
    return Clock


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "admin.conf"
    path.write_text("kind: Config\n")
    return str(path)


def args(kubeconfig, **extra):
    return {"kubeconfig": kubeconfig, **extra}


def run(harness, module_args, results, failed=False, check=False, diff=False):
    return harness.run_module(kubeadm_token.main, module_args, results, failed=failed, check=check, diff=diff)


def listing(kubeconfig):
    return bounded("list", "-o", "json", "--kubeconfig", kubeconfig)


def create(kubeconfig, *token, ttl="1h", description="kubesmith join", usages="signing,authentication"):
    desc = ["--description", description] if description else []
    return bounded(
        "create", *token, "--ttl", ttl, *desc, "--usages", usages, "--groups", GROUPS, "--kubeconfig", kubeconfig
    )


def leaked(result):
    """Token secrets found in the result, apart from the one returned as token."""
    blob = json.dumps({k: v for k, v in result.items() if k != "token"})
    return [t for t in ALL_TOKENS if t.split(".")[1] in blob]


LIST = load("token_list").result()


def token_json(token, description, expires):
    """One object of `kubeadm token list -o json`, as kubeadm prints it."""
    body = {"kind": "BootstrapToken", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "token": token}
    if description:
        body["description"] = description
    if expires:
        body["expires"] = expires
    body.update(usages=["authentication", "signing"], groups=[GROUPS])
    return json.dumps(body, indent=4) + "\n"


# --- present -------------------------------------------------------------------------------------


def test_valid_token_with_the_description_is_reused(module_harness, kubeconfig):
    result, rc = run(module_harness, args(kubeconfig, description="kubesmith join"), [LIST])

    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is False
    assert (result["token"], result["token_id"]) == (JOIN_TOKEN, "q3fw5e")
    assert [t["id"] for t in result["tokens"]] == ["7x2kq9", "q3fw5e", "z9y8x7"]
    assert result["tokens"][1] == {
        "id": "q3fw5e",
        "description": "kubesmith join",
        "expires": "2026-11-28T08:10:00Z",
        "usages": ["authentication", "signing"],
        "groups": [GROUPS],
    }
    assert leaked(result) == []


def test_token_about_to_expire_is_replaced_by_a_new_one(module_harness, kubeconfig, clock):
    clock.now = datetime(2026, 11, 28, 8, 1, tzinfo=UTC)  # 9 min left < min_remaining 600 s
    result, rc = run(
        module_harness, args(kubeconfig, description="kubesmith join"), [LIST, load("token_create").result()]
    )

    assert rc.calls == [listing(kubeconfig), create(kubeconfig)]
    assert result["changed"] is True
    assert (result["token"], result["token_id"]) == (CREATED_TOKEN, "h5g4f3")
    assert result["tokens"][-1] == {
        "id": "h5g4f3",
        "description": "kubesmith join",
        "expires": "2026-11-28T09:01:00Z",
        "usages": ["authentication", "signing"],
        "groups": [GROUPS],
    }
    assert leaked(result) == []


def test_rerun_after_creating_reuses_the_created_token(module_harness, kubeconfig):
    _result, _rc = run(module_harness, args(kubeconfig, description="new join"), [LIST, load("token_create").result()])
    listed = LIST[1] + token_json(CREATED_TOKEN, "new join", "2026-11-28T08:20:00Z")
    result, rc = run(module_harness, args(kubeconfig, description="new join"), [(0, listed, "")])
    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is False
    assert result["token"] == CREATED_TOKEN


def test_token_that_never_expires_is_reused(module_harness, kubeconfig, clock):
    clock.now = datetime(2036, 1, 1, tzinfo=UTC)
    result, _rc = run(module_harness, args(kubeconfig, description="kubesmith forever", ttl="0"), [LIST])
    assert result["changed"] is False
    assert result["token"] == FOREVER_TOKEN


def test_other_usages_make_a_new_token(module_harness, kubeconfig):
    result, rc = run(
        module_harness,
        args(
            kubeconfig, description="kubesmith join", usages=["authentication"], ttl="2h", min_remaining=60, timeout=20
        ),
        [LIST, load("token_create").result()],
    )
    assert rc.calls == [
        bounded("list", "-o", "json", "--kubeconfig", kubeconfig, seconds=20),
        bounded(
            "create",
            "--ttl",
            "2h",
            "--description",
            "kubesmith join",
            "--usages",
            "authentication",
            "--groups",
            GROUPS,
            "--kubeconfig",
            kubeconfig,
            seconds=20,
        ),
    ]
    assert result["changed"] is True
    assert result["token"] == CREATED_TOKEN


def test_given_token_that_is_valid_is_kept(module_harness, kubeconfig):
    result, rc = run(module_harness, args(kubeconfig, token=TOKEN), [LIST])
    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is False
    assert (result["token"], result["token_id"]) == (TOKEN, "7x2kq9")


def test_given_token_that_is_missing_is_created(module_harness, kubeconfig):
    result, rc = run(
        module_harness,
        args(kubeconfig, token=CREATED_TOKEN, description="kubesmith join"),
        [LIST, load("token_create").result()],
    )
    assert rc.calls == [listing(kubeconfig), create(kubeconfig, CREATED_TOKEN)]
    assert result["changed"] is True
    assert result["token"] == CREATED_TOKEN
    assert leaked(result) == []


def test_given_token_about_to_expire_is_deleted_and_created_again(module_harness, kubeconfig, clock):
    clock.now = datetime(2026, 11, 28, 8, 5, tzinfo=UTC)
    token_out = (0, f"{JOIN_TOKEN}\n", "")
    result, rc = run(
        module_harness,
        args(kubeconfig, token=JOIN_TOKEN, description="kubesmith join"),
        [LIST, load("token_delete").result(), token_out],
    )
    assert rc.calls == [
        listing(kubeconfig),
        bounded("delete", "q3fw5e", "--kubeconfig", kubeconfig),
        create(kubeconfig, JOIN_TOKEN),
    ]
    assert result["changed"] is True
    assert result["token"] == JOIN_TOKEN
    assert [t["id"] for t in result["tokens"]] == ["7x2kq9", "z9y8x7", "q3fw5e"]


def test_check_mode_lists_and_creates_nothing(module_harness, kubeconfig):
    result, rc = run(module_harness, args(kubeconfig, description="other"), [LIST], check=True)
    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is True
    assert (result["token"], result["token_id"]) == ("", "")
    assert result["tokens"][-1] == {
        "id": "",
        "description": "other",
        "expires": "2026-11-28T08:20:00Z",
        "usages": ["authentication", "signing"],
        "groups": [GROUPS],
    }


def test_diff_shows_token_ids_never_secrets(module_harness, kubeconfig):
    result, _rc = run(module_harness, args(kubeconfig, description="other"), [LIST], check=True, diff=True)
    assert result["diff"]["before"].splitlines() == [
        "7x2kq9 The default bootstrap token generated by 'kubeadm init'. "
        "(2026-11-29T07:10:00Z; authentication,signing)",
        "q3fw5e kubesmith join (2026-11-28T08:10:00Z; authentication,signing)",
        "z9y8x7 kubesmith forever (never expires; authentication,signing)",
    ]
    assert result["diff"]["after"].splitlines()[-1] == "(new) other (2026-11-28T08:20:00Z; authentication,signing)"
    assert leaked(result) == []


# --- absent and list -----------------------------------------------------------------------------


def test_absent_deletes_every_token_with_the_description(module_harness, kubeconfig):
    result, rc = run(
        module_harness,
        args(kubeconfig, state="absent", description="kubesmith join"),
        [LIST, load("token_delete").result()],
    )
    assert rc.calls == [listing(kubeconfig), bounded("delete", "q3fw5e", "--kubeconfig", kubeconfig)]
    assert result["changed"] is True
    assert result["token"] == ""
    assert [t["id"] for t in result["tokens"]] == ["7x2kq9", "z9y8x7"]
    assert leaked(result) == []


@pytest.mark.parametrize("token", [TOKEN, "7x2kq9"])
def test_absent_deletes_a_token_by_token_or_id(module_harness, kubeconfig, token):
    result, rc = run(
        module_harness,
        args(kubeconfig, state="absent", token=token),
        [LIST, (0, 'bootstrap token "7x2kq9" deleted\n', "")],
    )
    assert rc.calls[1] == bounded("delete", "7x2kq9", "--kubeconfig", kubeconfig)
    assert result["changed"] is True
    assert result["token_id"] == "7x2kq9"
    assert TOKEN not in json.dumps(result)


def test_absent_token_that_is_gone_changes_nothing(module_harness, kubeconfig):
    result, rc = run(module_harness, args(kubeconfig, state="absent", token="aaaaaa"), [LIST])
    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is False


def test_absent_in_check_mode_deletes_nothing(module_harness, kubeconfig):
    result, rc = run(
        module_harness, args(kubeconfig, state="absent", description="kubesmith forever"), [LIST], check=True
    )
    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is True
    assert [t["id"] for t in result["tokens"]] == ["7x2kq9", "q3fw5e"]


def test_list_reports_without_secrets(module_harness, kubeconfig):
    result, rc = run(module_harness, args(kubeconfig, state="list"), [LIST])
    assert rc.calls == [listing(kubeconfig)]
    assert result["changed"] is False
    assert result["token"] == ""
    assert len(result["tokens"]) == 3
    assert not any(t.split(".")[1] in json.dumps(result) for t in ALL_TOKENS)


def test_list_without_tokens(module_harness, kubeconfig):
    result, _rc = run(module_harness, args(kubeconfig, state="list"), [load("token_list_empty").result()])
    assert result["tokens"] == []


# --- failures ------------------------------------------------------------------------------------


def test_unreachable_api_server(module_harness, kubeconfig):
    result, _rc = run(
        module_harness, args(kubeconfig, state="list"), [load("token_list_refused").result()], failed=True
    )
    assert result["msg"].startswith("kubeadm token list failed: rc 1: failed to list bootstrap tokens: Get ")
    assert result["msg"].endswith(f"kubeadm needs the API server through {kubeconfig}: is the control plane up?")
    assert result["rc"] == 1


def test_create_failing_is_redacted(module_harness, kubeconfig):
    err = f'error: bootstrap token "{CREATED_TOKEN}" already exists\n'
    result, _rc = run(module_harness, args(kubeconfig, token=CREATED_TOKEN), [LIST, (1, "", err)], failed=True)
    assert result["msg"].startswith(
        'kubeadm token create failed: rc 1: error: bootstrap token "h5g4f3.<redacted>" already exists'
    )
    assert CREATED_TOKEN not in json.dumps(result)


def test_create_printing_no_token_fails(module_harness, kubeconfig):
    result, _rc = run(
        module_harness, args(kubeconfig, description="x"), [LIST, (0, "W1128 warning only\n", "")], failed=True
    )
    assert result["msg"] == "kubeadm token create printed no token: 'W1128 warning only'"


def test_unparseable_list_fails_without_secrets(module_harness, kubeconfig):
    result, _rc = run(
        module_harness, args(kubeconfig, state="list"), [(0, f"TOKEN TTL\n{TOKEN} 23h\n", "")], failed=True
    )
    assert result["msg"].startswith("kubeadm token list: expected the JSON of kubeadm token list -o json")
    assert TOKEN not in json.dumps(result)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "state=present needs token or description"),
        ({"token": "abc"}, "token: not a bootstrap token"),
        ({"description": "x", "ttl": "1d"}, "ttl: '1d' is not a duration"),
        ({"description": "x", "ttl": "5m"}, "ttl 5m is not longer than min_remaining (600 s)"),
        ({"description": "x", "usages": []}, "usages: give at least one"),
        ({"state": "absent"}, "state=absent needs token (or its ID) or description"),
        ({"state": "absent", "token": "ABCDEF"}, "token: not a bootstrap token or token ID"),
        ({"state": "list", "timeout": 0}, "timeout: must be a positive number of seconds, got 0"),
    ],
)
def test_bad_arguments(module_harness, kubeconfig, extra, message):
    result, rc = run(module_harness, args(kubeconfig, **extra), [], failed=True)
    assert result["msg"].startswith(message)
    assert rc.calls == []


def test_missing_kubeconfig(module_harness, tmp_path):
    result, rc = run(module_harness, {"kubeconfig": str(tmp_path / "none.conf"), "state": "list"}, [], failed=True)
    assert result["msg"] == (
        f"kubeconfig {tmp_path / 'none.conf'} does not exist: "
        "run this on the first control-plane host, after kubeadm_init"
    )
    assert rc.calls == []
