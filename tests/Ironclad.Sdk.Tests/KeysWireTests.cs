// The keys data plane on the wire, with a plain HttpClient and real tokens (api-compat.md §1): the
// exact challenge, refused tokens, the path quirks the SDKs send, bad input (400 BadParameter and
// nothing changes), the innererror codes of refusals, port separation from the control plane, a
// soft-deleted vault, and the audit record of every call. One server (vault ports 21480-21489).
using System.Net;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class KeysWireTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "21480-21489"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_first_request_without_a_token_gets_the_exact_challenge_before_its_body_is_read()
    {
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-challenge", cancellationToken: Token);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);

        // As the SDK's first request: no Authorization, body stripped, content-type kept, %2D in the query.
        var (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Post, "/keys/k1//wrapkey?api%2Dversion=2025-07-01", null, "", Token);
        using (response)
        {
            Assert.Equal(401, status);
            Assert.Equal($"Bearer authorization=\"{_server.AuthorityHost}/{_server.TenantId}\", resource=\"https://vault.azure.net\"",
                Assert.Single(response.Headers.WwwAuthenticate).ToString());
            Assert.Equal("Unauthorized", body!.Value.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal("AKV10000: Request is missing a Bearer or PoP token.", body.Value.GetProperty("error").GetProperty("message").GetString());
        }

        // A body that is not even JSON changes nothing: authentication comes first.
        (status, _, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Post, $"/keys/k1/create?{KeysTestSupport.ApiVersion}", null, "{not json", Token);
        using (response)
        {
            Assert.Equal(401, status);
        }
    }

    [Fact]
    public async Task Tokens_for_another_audience_or_tenant_are_refused_with_the_challenge()
    {
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-tokens", cancellationToken: Token);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);
        var challenge = $"Bearer authorization=\"{_server.AuthorityHost}/{_server.TenantId}\", resource=\"https://vault.azure.net\"";

        var armToken = await _server.GetTokenAsync(cancellationToken: Token);
        var (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", armToken, null, Token);
        using (response)
        {
            Assert.Equal(401, status);
            Assert.Equal(challenge, Assert.Single(response.Headers.WwwAuthenticate).ToString());
            Assert.Equal("AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com.",
                body!.Value.GetProperty("error").GetProperty("message").GetString());
        }

        var other = await _server.CreateTenantAsync(Token);
        var otherToken = await _server.GetTokenInTenantAsync(other.TenantId, other.ClientId, other.ClientSecret, KeysTestSupport.VaultScope, Token);
        (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", otherToken, null, Token);
        using (response)
        {
            Assert.Equal(401, status);
            Assert.Equal(challenge, Assert.Single(response.Headers.WwwAuthenticate).ToString());
            Assert.StartsWith("AKV10032: Invalid issuer.", body!.Value.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        (status, _, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", "not-a-jwt", null, Token);
        using (response)
        {
            Assert.Equal(401, status);
            Assert.Equal(challenge, Assert.Single(response.Headers.WwwAuthenticate).ToString());
        }
    }

    [Fact]
    public async Task The_paths_each_sdk_sends_reach_the_same_key()
    {
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-paths", cancellationToken: Token);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);
        var token = await KeysTestSupport.VaultTokenAsync(_server, Token);
        var created = await OkAsync(vault, HttpMethod.Post, "/keys/p1/create?api%2Dversion=2025-07-01", token, """{"kty":"RSA","key_size":2048}""");
        var kid = created.GetProperty("key").GetProperty("kid").GetString()!;
        var version = kid[(kid.LastIndexOf('/') + 1)..];
        Assert.Equal($"{vaultUri}keys/p1/{version}", kid);
        Assert.Matches("^[0-9a-f]{32}$", version);

        foreach (var path in new[] { "/keys/p1", "/keys/p1/", $"/keys/p1/{version}", "/KEYS/p1/" })
        {
            foreach (var apiVersion in new[] { "api-version=7.0", "api-version=7.6", "api%2Dversion=2025-07-01" })
            {
                var got = await OkAsync(vault, HttpMethod.Get, $"{path}?{apiVersion}", token);
                Assert.Equal(kid, got.GetProperty("key").GetProperty("kid").GetString());
            }
        }

        var dek = Base64Url(new byte[32]);
        foreach (var path in new[] { "/keys/p1//wrapkey", "/keys/p1/wrapKey", $"/keys/p1/{version}/wrapkey", $"/KEYS/p1/{version}/WRAPKEY" })
        {
            var wrapped = await OkAsync(vault, HttpMethod.Post, $"{path}?{KeysTestSupport.ApiVersion}", token, $$"""{"alg":"RSA-OAEP-256","value":"{{dek}}"}""");
            Assert.Equal(kid, wrapped.GetProperty("kid").GetString());
            var unwrapPath = path.Replace("wrapkey", "unwrapkey", StringComparison.OrdinalIgnoreCase);
            var unwrapped = await OkAsync(vault, HttpMethod.Post, $"{unwrapPath}?{KeysTestSupport.ApiVersion}", token,
                $$"""{"alg":"RSA-OAEP-256","value":"{{wrapped.GetProperty("value").GetString()}}=="}""");
            Assert.Equal(dek, unwrapped.GetProperty("value").GetString());
        }

        var versions = await OkAsync(vault, HttpMethod.Get, $"/keys/p1/versions?{KeysTestSupport.ApiVersion}", token);
        Assert.Equal(kid, Assert.Single(versions.GetProperty("value").EnumerateArray()).GetProperty("kid").GetString());
        var list = await OkAsync(vault, HttpMethod.Get, $"/keys/?{KeysTestSupport.ApiVersion}&maxresults=1", token);
        Assert.Equal($"{vaultUri}keys/p1", Assert.Single(list.GetProperty("value").EnumerateArray()).GetProperty("kid").GetString());
        Assert.Equal(JsonValueKind.Null, list.GetProperty("nextLink").ValueKind);

        var (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Delete, $"/keys/p1/versions?{KeysTestSupport.ApiVersion}", token, null, Token);
        using (response)
        {
            Assert.Equal(405, status);
            Assert.Equal("MethodNotAllowed", body!.Value.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Bad_input_is_400_BadParameter_and_changes_nothing()
    {
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-bad", cancellationToken: Token);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);
        var token = await KeysTestSupport.VaultTokenAsync(_server, Token);
        var before = await OkAsync(vault, HttpMethod.Post, $"/keys/b1/create?{KeysTestSupport.ApiVersion}", token, """{"kty":"RSA","key_size":2048}""");
        var api = KeysTestSupport.ApiVersion;
        var good = Base64Url(new byte[32]);

        var cases = new (string Name, HttpMethod Method, string Path, string? Body)[]
        {
            ("unknown alg", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", $$"""{"alg":"RSA-OAEP-512","value":"{{good}}"}"""),
            ("sign alg on wrap", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", $$"""{"alg":"RS256","value":"{{good}}"}"""),
            ("bad base64url", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", """{"alg":"RSA-OAEP-256","value":"not*base64url!"}"""),
            ("standard base64", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", """{"alg":"RSA-OAEP-256","value":"a+b/cd=="}"""),
            ("value too large for the key", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", $$"""{"alg":"RSA-OAEP-256","value":"{{Base64Url(new byte[300])}}"}"""),
            ("oversized body", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", $$"""{"alg":"RSA-OAEP-256","value":"{{Base64Url(new byte[70_000])}}"}"""),
            ("wrong ciphertext size", HttpMethod.Post, $"/keys/b1//unwrapkey?{api}", $$"""{"alg":"RSA-OAEP-256","value":"{{Base64Url(new byte[100])}}"}"""),
            ("missing value", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", """{"alg":"RSA-OAEP-256"}"""),
            ("not json", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", "{\"alg\":"),
            ("empty body", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", ""),
            ("array body", HttpMethod.Post, $"/keys/b1//wrapkey?{api}", "[]"),
            ("wrong key size", HttpMethod.Post, $"/keys/b1/create?{api}", """{"kty":"RSA","key_size":1024}"""),
            ("unknown kty", HttpMethod.Post, $"/keys/b2/create?{api}", """{"kty":"EC","crv":"P-256"}"""),
            ("key_size not a number", HttpMethod.Post, $"/keys/b1/create?{api}", """{"kty":"RSA","key_size":"big"}"""),
            ("bad JWK: no modulus", HttpMethod.Put, $"/keys/b3?{api}", """{"key":{"kty":"RSA","e":"AQAB","d":"AQAB"}}"""),
            ("bad JWK: bad base64url", HttpMethod.Put, $"/keys/b3?{api}", """{"key":{"kty":"RSA","n":"%%%","e":"AQAB"}}"""),
            ("bad JWK: not an object", HttpMethod.Put, $"/keys/b3?{api}", """{"key":"RSA"}"""),
            ("bad attribute type", HttpMethod.Patch, $"/keys/b1/?{api}", """{"attributes":{"enabled":"no"}}"""),
            ("bad tags", HttpMethod.Patch, $"/keys/b1/?{api}", """{"tags":{"a":1}}"""),
            ("missing api-version", HttpMethod.Get, "/keys/b1/", null),
            ("unknown api-version", HttpMethod.Get, "/keys/b1/?api-version=7.7", null),
            ("bad maxresults", HttpMethod.Get, $"/keys?{api}&maxresults=26", null),
            ("bad name", HttpMethod.Post, $"/keys/bad_name/create?{api}", """{"kty":"RSA"}"""),
        };
        foreach (var (name, method, path, body) in cases)
        {
            var (status, error, response) = await KeysTestSupport.CallAsync(vault, method, path, token, body, Token);
            using (response)
            {
                Assert.True(status == 400, $"{name}: {status} {error}");
                Assert.True(error!.Value.GetProperty("error").GetProperty("code").GetString() == "BadParameter", $"{name}: {error}");
            }
        }

        var after = await OkAsync(vault, HttpMethod.Get, $"/keys/b1/?{api}", token);
        Assert.Equal(before.GetProperty("key").GetRawText(), after.GetProperty("key").GetRawText());
        Assert.Equal(before.GetProperty("attributes").GetRawText(), after.GetProperty("attributes").GetRawText());
        Assert.Single((await OkAsync(vault, HttpMethod.Get, $"/keys/b1/versions?{api}", token)).GetProperty("value").EnumerateArray());
        Assert.Single((await OkAsync(vault, HttpMethod.Get, $"/keys?{api}", token)).GetProperty("value").EnumerateArray());
        Assert.Empty((await OkAsync(vault, HttpMethod.Get, $"/deletedkeys?{api}", token)).GetProperty("value").EnumerateArray());
    }

    [Fact]
    public async Task Refusals_carry_the_clouds_inner_codes()
    {
        var rbacUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-rbac", rbac: true, cancellationToken: Token);
        var policyUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-policy", cancellationToken: Token);
        var token = await KeysTestSupport.VaultTokenAsync(_server, Token);
        var stranger = ArmTestPrincipals.Create(_server);
        var strangerToken = await ArmTestPrincipals.TokenAsync(_server, stranger, KeysTestSupport.VaultScope, Token);

        using (var rbac = KeysTestSupport.VaultClient(_server, rbacUri))
        {
            var (status, body, response) = await KeysTestSupport.CallAsync(rbac, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", token, null, Token);
            using (response)
            {
                Assert.Equal(403, status);
                Assert.Equal("Forbidden", body!.Value.GetProperty("error").GetProperty("code").GetString());
                Assert.Equal("ForbiddenByRbac", body.Value.GetProperty("error").GetProperty("innererror").GetProperty("code").GetString());
            }
        }

        using var policy = KeysTestSupport.VaultClient(_server, policyUri);
        await OkAsync(policy, HttpMethod.Post, $"/keys/d1/create?{KeysTestSupport.ApiVersion}", token, """{"kty":"RSA"}""");
        var (status2, body2, response2) = await KeysTestSupport.CallAsync(policy, HttpMethod.Post, $"/keys/d1//unwrapkey?{KeysTestSupport.ApiVersion}",
            strangerToken, """{"alg":"RSA-OAEP","value":"AA"}""", Token);
        using (response2)
        {
            Assert.Equal(403, status2);
            Assert.Equal("AccessDenied", body2!.Value.GetProperty("error").GetProperty("innererror").GetProperty("code").GetString());
        }

        await OkAsync(policy, HttpMethod.Patch, $"/keys/d1/?{KeysTestSupport.ApiVersion}", token, """{"attributes":{"enabled":false}}""");
        var wrapped = await OkAsync(policy, HttpMethod.Post, $"/keys/d1//wrapkey?{KeysTestSupport.ApiVersion}", token, $$"""{"alg":"RSA-OAEP","value":"{{Base64Url(new byte[32])}}"}""");
        var (status3, body3, response3) = await KeysTestSupport.CallAsync(policy, HttpMethod.Post, $"/keys/d1//unwrapkey?{KeysTestSupport.ApiVersion}",
            token, $$"""{"alg":"RSA-OAEP","value":"{{wrapped.GetProperty("value").GetString()}}"}""", Token);
        using (response3)
        {
            Assert.Equal(403, status3);
            Assert.Equal("KeyDisabled", body3!.Value.GetProperty("error").GetProperty("innererror").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Control_plane_and_data_plane_never_answer_on_each_others_ports_and_a_deleted_vault_is_gone()
    {
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-ports", cancellationToken: Token);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);
        var armToken = await _server.GetTokenAsync(cancellationToken: Token);

        // ARM's paths on the vault port: the data plane answers (a challenge), not Resource Manager.
        var (status, _, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/subscriptions/{_server.SubscriptionId}?api-version=2022-12-01", armToken, null, Token);
        using (response)
        {
            Assert.Equal(401, status);
            Assert.Single(response.Headers.WwwAuthenticate);
        }

        var token = await KeysTestSupport.VaultTokenAsync(_server, Token);
        (status, _, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/.well-known/openid-configuration?{KeysTestSupport.ApiVersion}", token, null, Token);
        using (response)
        {
            Assert.Equal(404, status);
        }

        // The data plane's paths on the control-plane port: not served.
        using var arm = _server.CreateHttpClient();
        (status, _, response) = await KeysTestSupport.CallAsync(arm, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", token, null, Token);
        using (response)
        {
            Assert.Equal(404, status);
            Assert.Empty(response.Headers.WwwAuthenticate);
        }

        await KeysTestSupport.DeleteVaultAsync(_server, "wire-ports", Token);
        (status, var body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", token, null, Token);
        using (response)
        {
            Assert.Equal(404, status);
            Assert.Equal("VaultNotFound", body!.Value.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Every_call_allowed_or_refused_is_audited_without_key_material()
    {
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "wire-audit", cancellationToken: Token);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);
        var token = await KeysTestSupport.VaultTokenAsync(_server, Token);
        var adminObjectId = KeysTestSupport.Claim(token, "oid");
        var dek = new byte[32];
        Random.Shared.NextBytes(dek);

        (await KeysTestSupport.CallAsync(vault, HttpMethod.Post, $"/keys/a1//wrapkey?{KeysTestSupport.ApiVersion}", null, "", Token)).Response.Dispose();
        await OkAsync(vault, HttpMethod.Post, $"/keys/a1/create?{KeysTestSupport.ApiVersion}", token, """{"kty":"RSA"}""");
        var wrapped = await OkAsync(vault, HttpMethod.Post, $"/keys/a1//wrapkey?{KeysTestSupport.ApiVersion}", token, $$"""{"alg":"RSA-OAEP-256","value":"{{Base64Url(dek)}}"}""");
        var unwrapped = await OkAsync(vault, HttpMethod.Post, $"/keys/a1//unwrapkey?{KeysTestSupport.ApiVersion}", token, $$"""{"alg":"RSA-OAEP-256","value":"{{wrapped.GetProperty("value").GetString()}}"}""");
        Assert.Equal(Base64Url(dek), unwrapped.GetProperty("value").GetString());
        (await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys/missing/?{KeysTestSupport.ApiVersion}", token, null, Token)).Response.Dispose();

        var records = KeysTestSupport.ReadAudit(_server).Where(r => r.GetProperty("vault").GetString() == "wire-audit").ToList();
        (string Operation, int Status, string Result, string? Caller, string? Key) Shape(JsonElement r) => (
            r.GetProperty("operation").GetString()!, r.GetProperty("status").GetInt32(), r.GetProperty("result").GetString()!,
            r.GetProperty("callerObjectId").GetString(), r.GetProperty("keyName").GetString());
        Assert.Equal(
            [
                ("KeyWrap", 401, "Unauthorized", null, "a1"),
                ("KeyCreate", 200, "Success", adminObjectId, "a1"),
                ("KeyWrap", 200, "Success", adminObjectId, "a1"),
                ("KeyUnwrap", 200, "Success", adminObjectId, "a1"),
                ("KeyGet", 404, "KeyNotFound", adminObjectId, "missing"),
            ],
            records.Select(Shape).ToList());
        Assert.All(records, r => Assert.Equal("127.0.0.1", r.GetProperty("clientAddress").GetString()));
        Assert.Matches("^[0-9a-f]{32}$", records[3].GetProperty("keyVersion").GetString());

        var findings = KeysTestSupport.ScanDataDirectory(_server, [dek, System.Text.Encoding.ASCII.GetBytes(Base64Url(dek)), System.Text.Encoding.ASCII.GetBytes(token[^40..])]);
        Assert.Empty(findings);
    }

    private static async Task<JsonElement> OkAsync(HttpClient vault, HttpMethod method, string path, string token, string? body = null)
    {
        var (status, json, response) = await KeysTestSupport.CallAsync(vault, method, path, token, body, Token);
        using (response)
        {
            Assert.True(status == (int)HttpStatusCode.OK, $"{method} {path}: {status} {json}");
            return json!.Value;
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
