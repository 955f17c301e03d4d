"""The harness itself, on a throwaway module: arguments in, argv recorded, exit/fail caught."""

import pytest
from ansible.module_utils.basic import AnsibleModule


def demo_main():
    module = AnsibleModule(
        argument_spec={"name": {"type": "str", "required": True}, "token": {"type": "str", "no_log": True}},
        supports_check_mode=True,
    )
    rc, out, err = module.run_command(["echo", module.params["name"]], environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"echo failed: {err.strip()}", rc=rc, stdout=out, stderr=err)
    module.exit_json(changed=not module.check_mode, said=out.strip())


def test_exit_json_returns_result_and_records_argv(module_harness):
    rc = module_harness.run_command([(0, "hello\n", "")])
    with module_harness.args({"name": "hello"}):
        result = module_harness.run(demo_main)
    assert result == {"changed": True, "said": "hello"}
    assert rc.calls == [["echo", "hello"]]
    assert rc.kwargs[0]["environ_update"] == {"LC_ALL": "C"}
    rc.assert_all_used()


def test_check_mode_is_passed_through(module_harness):
    module_harness.run_command([(0, "x\n", "")])
    with module_harness.args({"name": "x", "_ansible_check_mode": True}):
        assert module_harness.run(demo_main)["changed"] is False


def test_fail_json_is_caught(module_harness):
    module_harness.run_command([(3, "", "boom\n")])
    with module_harness.args({"name": "x"}):
        result = module_harness.run(demo_main, failed=True)
    assert result["msg"] == "echo failed: boom"
    assert result["rc"] == 3


def test_missing_required_argument_fails(module_harness):
    with module_harness.args({}):
        result = module_harness.run(demo_main, failed=True)
    assert "name" in result["msg"]


def test_unexpected_run_command_fails_the_test(module_harness):
    module_harness.run_command([])
    with module_harness.args({"name": "x"}), pytest.raises(pytest.fail.Exception):
        demo_main()


def test_run_module_sets_check_mode_and_checks_every_result_is_used(module_harness):
    result, rc = module_harness.run_module(demo_main, {"name": "x"}, [(0, "x\n", "")], check=True)
    assert result == {"changed": False, "said": "x"}
    assert rc.calls == [["echo", "x"]]
    with pytest.raises(AssertionError, match="never used"):
        module_harness.run_module(demo_main, {"name": "x"}, [(0, "x\n", ""), (0, "", "")])
