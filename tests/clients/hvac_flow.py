"""Proves that hvac 0.11 (Debian's python3-hvac, run with /usr/bin/python3) works
unchanged against a live, uninitialized leasefs server: init and unseal, KV v1 and v2
round trips with versions (read_secret_version(version=1) after two writes, cas),
policy write through hvac's sys/policy, a token with that policy allowed on one path and
denied (hvac.exceptions.Forbidden) on another, AppRole enable + role + role-id +
secret-id + login, token revoke then Forbidden, seal then unseal with the data kept.

Run by tests/clients/clients_test.cc, which starts and stops the server. Environment:
VAULT_ADDR (http or https URL), VAULT_CACERT (CA file for https, else empty), and
LEASEFS_TEST_SECRETS_FILE: every secret this script sees (root token, unseal keys,
tokens, secret IDs, secret values) is written there, one per line, so the caller can
check that none of them was printed. The script prints only step names; any failed
assertion or unexpected exception exits non-zero.
"""
import os
import sys

import hvac
import hvac.exceptions

ADDR = os.environ["VAULT_ADDR"]
CACERT = os.environ.get("VAULT_CACERT") or None
SECRETS_FILE = os.environ["LEASEFS_TEST_SECRETS_FILE"]

POLICY = """
path "secret/data/allowed/*" {
  capabilities = ["read"]
}
path "kv1/allowed/*" {
  capabilities = ["read", "list"]
}
"""

seen_secrets = []


def remember(*values):
    """Records secrets so the caller can check none was printed."""
    for v in values:
        if v:
            seen_secrets.append(str(v))
    with open(SECRETS_FILE, "w", encoding="utf-8") as f:
        f.write("\n".join(seen_secrets) + "\n")


def step(name):
    print("ok -", name, flush=True)


def client(token=None):
    return hvac.Client(url=ADDR, token=token, verify=CACERT if CACERT else True, timeout=10)


def expect_raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return
    except Exception as e:  # noqa: BLE001 - report the wrong type
        raise AssertionError(f"expected {exc_type.__name__}, got {type(e).__name__}") from None
    raise AssertionError(f"expected {exc_type.__name__}, got success")


def main():
    admin = client()

    # --- init and unseal ---
    assert admin.sys.is_initialized() is False, "fresh server claims to be initialized"
    init = admin.sys.initialize(secret_shares=3, secret_threshold=2)
    keys, root = init["keys"], init["root_token"]
    remember(root, *keys, *init.get("keys_base64", []))
    assert len(keys) == 3, "init returned %d keys" % len(keys)
    assert admin.sys.is_initialized() is True
    assert admin.sys.is_sealed() is True
    status = admin.sys.submit_unseal_key(keys[0])
    assert status["sealed"] is True and status["progress"] == 1, "progress after one key"
    status = admin.sys.submit_unseal_key(keys[2])
    assert status["sealed"] is False, "still sealed after threshold keys"
    assert admin.sys.is_sealed() is False
    step("init and unseal")

    admin.token = root
    assert admin.is_authenticated(), "root token not accepted"
    admin.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    admin.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    mounts = admin.sys.list_mounted_secrets_engines()
    assert mounts["data"]["secret/"]["options"]["version"] == "2"
    assert mounts["data"]["kv1/"]["type"] == "kv"
    step("enable kv v1 and v2")

    # --- KV v1 ---
    kv1 = admin.secrets.kv.v1
    kv1.create_or_update_secret(path="allowed/app", secret={"user": "alice", "port": 5432}, mount_point="kv1")
    kv1.create_or_update_secret(path="denied/app", secret={"user": "mallory"}, mount_point="kv1")
    got = kv1.read_secret(path="allowed/app", mount_point="kv1")
    assert got["data"] == {"user": "alice", "port": 5432}, "kv v1 read back"
    listed = kv1.list_secrets(path="", mount_point="kv1")
    assert sorted(listed["data"]["keys"]) == ["allowed/", "denied/"], "kv v1 list"
    kv1.create_or_update_secret(path="allowed/app", secret={"user": "bob"}, mount_point="kv1")
    assert kv1.read_secret(path="allowed/app", mount_point="kv1")["data"] == {"user": "bob"}
    kv1.create_or_update_secret(path="allowed/tmp", secret={"x": "1"}, mount_point="kv1")
    kv1.delete_secret(path="allowed/tmp", mount_point="kv1")
    expect_raises(hvac.exceptions.InvalidPath, kv1.read_secret, path="allowed/tmp", mount_point="kv1")
    step("kv v1 round trip")

    # --- KV v2 with versions ---
    kv2 = admin.secrets.kv.v2
    remember("first-password-value", "second-password-value")
    w1 = kv2.create_or_update_secret(path="allowed/db", secret={"password": "first-password-value"}, mount_point="secret")
    assert w1["data"]["version"] == 1
    w2 = kv2.create_or_update_secret(path="allowed/db", secret={"password": "second-password-value"}, mount_point="secret")
    assert w2["data"]["version"] == 2
    latest = kv2.read_secret_version(path="allowed/db", mount_point="secret")
    assert latest["data"]["data"] == {"password": "second-password-value"}
    assert latest["data"]["metadata"]["version"] == 2
    v1 = kv2.read_secret_version(path="allowed/db", version=1, mount_point="secret")
    assert v1["data"]["data"] == {"password": "first-password-value"}, "version 1 after two writes"
    assert v1["data"]["metadata"]["version"] == 1
    meta = kv2.read_secret_metadata(path="allowed/db", mount_point="secret")
    assert meta["data"]["current_version"] == 2
    assert sorted(meta["data"]["versions"].keys()) == ["1", "2"]
    expect_raises(hvac.exceptions.InvalidRequest, kv2.create_or_update_secret,
                  path="allowed/db", secret={"password": "stale"}, cas=1, mount_point="secret")
    w3 = kv2.create_or_update_secret(path="allowed/db", secret={"password": "third"}, cas=2, mount_point="secret")
    assert w3["data"]["version"] == 3
    kv2.create_or_update_secret(path="denied/db", secret={"password": "hidden"}, mount_point="secret")
    kv2.delete_latest_version_of_secret(path="allowed/db", mount_point="secret")
    expect_raises(hvac.exceptions.InvalidPath, kv2.read_secret_version, path="allowed/db", mount_point="secret")
    kv2.undelete_secret_versions(path="allowed/db", versions=[3], mount_point="secret")
    assert kv2.read_secret_version(path="allowed/db", mount_point="secret")["data"]["data"] == {"password": "third"}
    assert sorted(kv2.list_secrets(path="", mount_point="secret")["data"]["keys"]) == ["allowed/", "denied/"]
    step("kv v2 round trip with versions")

    # --- policy (hvac 0.11 writes through sys/policy/NAME) ---
    admin.sys.create_or_update_policy(name="app-read", policy=POLICY)
    assert "app-read" in admin.sys.list_policies()["policies"], "policy not listed"
    assert admin.sys.read_policy(name="app-read")["rules"] == POLICY, "policy read back"
    step("policy write")

    # --- a token with that policy ---
    created = admin.auth.token.create(policies=["app-read"], ttl="1h")
    token = created["auth"]["client_token"]
    remember(token, created["auth"].get("accessor"))
    assert sorted(created["auth"]["policies"]) == ["app-read", "default"]
    user = client(token)
    assert user.is_authenticated()
    got = user.secrets.kv.v2.read_secret_version(path="allowed/db", mount_point="secret")
    assert got["data"]["data"] == {"password": "third"}
    assert user.secrets.kv.v1.read_secret(path="allowed/app", mount_point="kv1")["data"] == {"user": "bob"}
    expect_raises(hvac.exceptions.Forbidden, user.secrets.kv.v2.read_secret_version,
                  path="denied/db", mount_point="secret")
    expect_raises(hvac.exceptions.Forbidden, user.secrets.kv.v1.read_secret,
                  path="denied/app", mount_point="kv1")
    expect_raises(hvac.exceptions.Forbidden, user.secrets.kv.v2.create_or_update_secret,
                  path="allowed/db", secret={"password": "x"}, mount_point="secret")
    expect_raises(hvac.exceptions.Forbidden, user.sys.list_mounted_secrets_engines)
    step("token allowed here, denied there")

    # --- AppRole ---
    admin.sys.enable_auth_method("approle")
    assert "approle/" in admin.sys.list_auth_methods()["data"]
    admin.auth.approle.create_or_update_approle(role_name="web", token_policies=["app-read"],
                                                token_ttl="20m", secret_id_ttl="10m")
    role = admin.auth.approle.read_role(role_name="web")
    assert role["data"]["token_policies"] == ["app-read"]
    role_id = admin.auth.approle.read_role_id(role_name="web")["data"]["role_id"]
    secret = admin.auth.approle.generate_secret_id(role_name="web")
    secret_id = secret["data"]["secret_id"]
    remember(role_id, secret_id, secret["data"].get("secret_id_accessor"))
    app = client()
    login = app.auth.approle.login(role_id=role_id, secret_id=secret_id)
    app_token = login["auth"]["client_token"]
    remember(app_token, login["auth"].get("accessor"))
    assert sorted(login["auth"]["token_policies"]) == ["app-read", "default"]
    assert login["auth"]["metadata"] == {"role_name": "web"}
    assert app.token == app_token, "hvac did not adopt the login token"
    assert app.secrets.kv.v2.read_secret_version(path="allowed/db", mount_point="secret")["data"]["data"]["password"] == "third"
    expect_raises(hvac.exceptions.Forbidden, app.secrets.kv.v2.read_secret_version,
                  path="denied/db", mount_point="secret")
    expect_raises(hvac.exceptions.InvalidRequest, client().auth.approle.login,
                  role_id=role_id, secret_id="wrong-secret-id")
    step("approle login")

    # --- revoke ---
    admin.auth.token.revoke(token)
    expect_raises(hvac.exceptions.Forbidden, user.secrets.kv.v2.read_secret_version,
                  path="allowed/db", mount_point="secret")
    assert not user.is_authenticated(), "revoked token still authenticates"
    app.auth.token.revoke_self()
    expect_raises(hvac.exceptions.Forbidden, app.secrets.kv.v2.read_secret_version,
                  path="allowed/db", mount_point="secret")
    step("token revoke then forbidden")

    # --- seal, sealed answers, unseal, data kept ---
    admin.sys.seal()
    assert admin.sys.is_sealed() is True
    expect_raises(hvac.exceptions.VaultDown, admin.secrets.kv.v2.read_secret_version,
                  path="allowed/db", mount_point="secret")
    admin.sys.submit_unseal_keys([keys[1], keys[2]])
    assert admin.sys.is_sealed() is False
    assert admin.secrets.kv.v2.read_secret_version(path="allowed/db", version=1, mount_point="secret")["data"]["data"] == {"password": "first-password-value"}
    step("seal and unseal keep data")

    print("hvac flow: all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL:", e, file=sys.stderr, flush=True)
        import traceback
        traceback.print_tb(e.__traceback__, file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - any surprise fails the test, without secrets
        print("FAIL: unexpected %s: %s" % (type(e).__name__, str(e)[:500]), file=sys.stderr, flush=True)
        import traceback
        traceback.print_tb(e.__traceback__, file=sys.stderr)
        sys.exit(1)
