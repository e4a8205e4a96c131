// `ironclad keyvault audit list|verify` against a real server: the calls just made through
// `keyvault key` are in the log with who, what and the outcome (and no key material); verify passes,
// then fails naming the record after this test edits one line of DIR/keyvault/audit.log.
// Its own server (class fixture): the tampering must not leak into other tests' verification.
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ironclad.Cli.Tests;

public sealed class KeyVaultAuditCliTests(KeyVaultCliServerB server) : IClassFixture<KeyVaultCliServerB>
{
    [Fact]
    public async Task Audit_list_shows_the_calls_verify_passes_and_fails_after_a_line_is_edited()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var vault = $"kv{Guid.NewGuid():N}"[..20];
        var admin = await server.AdminObjectIdAsync();
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        (await cli.RunAsync("keyvault", "create", "-n", vault, "-g", group, "-l", "eastus", "--retention-days", "7")).Succeeded();
        (await cli.RunAsync(["keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", admin, "--key-permissions", .. KeyVaultCliServer.AllKeyPermissions]))
            .Succeeded();
        (await cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", "audited")).Succeeded();
        var dek = RandomNumberGenerator.GetBytes(32);
        var wrapped = (await cli.RunAsync("keyvault", "key", "wrap", "--vault-name", vault, "-n", "audited", "--value", Convert.ToBase64String(dek)))
            .Succeeded().Json()["result"]!.GetValue<string>();
        (await cli.RunAsync("keyvault", "key", "unwrap", "--vault-name", vault, "-n", "audited", "--value", wrapped)).Succeeded();
        (await cli.RunAsync("keyvault", "key", "show", "--vault-name", vault, "-n", "missing")).FailedWith("KeyNotFound", expectedExit: 3);

        var records = (await cli.RunAsync("keyvault", "audit", "list", "-n", vault)).Succeeded().Json().AsArray();
        Assert.Equal(["KeyCreate", "KeyWrap", "KeyUnwrap", "KeyGet"], records.Select(r => r!["operation"]!.GetValue<string>()));
        Assert.All(records, r =>
        {
            Assert.Equal(vault, r!["vault"]!.GetValue<string>());
            Assert.Equal(admin, r["callerObjectId"]!.GetValue<string>());
            Assert.Equal(server.TenantId, r["tenantId"]!.GetValue<string>());
            Assert.Equal("127.0.0.1", r["clientAddress"]!.GetValue<string>());
        });
        Assert.Equal([200, 200, 200, 404], records.Select(r => r!["status"]!.GetValue<int>()));
        Assert.Equal("KeyNotFound", records[3]!["result"]!.GetValue<string>());
        Assert.Equal("missing", records[3]!["keyName"]!.GetValue<string>());

        var page = (await cli.RunAsync("keyvault", "audit", "list", "-n", vault, "-g", group, "--top", "2")).Succeeded().Json().AsArray();
        Assert.Equal(["KeyCreate", "KeyWrap"], page.Select(r => r!["operation"]!.GetValue<string>()));
        var table = (await cli.RunAsync("keyvault", "audit", "list", "-n", vault, "-o", "table")).Succeeded().StandardOutput;
        Assert.Contains("KeyUnwrap", table, StringComparison.Ordinal);

        var verified = (await cli.RunAsync("keyvault", "audit", "verify", "-n", vault)).Succeeded().Json();
        Assert.True(verified["valid"]!.GetValue<bool>());
        Assert.True(verified["records"]!.GetValue<long>() >= 4);

        var log = Path.Combine(server.DataDirectory, "keyvault", "audit.log");
        var text = await File.ReadAllTextAsync(log, TestContext.Current.CancellationToken);
        foreach (var form in new[] { Convert.ToBase64String(dek), Convert.ToBase64String(dek).TrimEnd('=').Replace('+', '-').Replace('/', '_'), wrapped })
        {
            Assert.DoesNotContain(form, text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(Encoding.Latin1.GetString(dek), Encoding.Latin1.GetString(await File.ReadAllBytesAsync(log, TestContext.Current.CancellationToken)), StringComparison.Ordinal);

        // Turn the refused call into an allowed one, as someone covering their tracks would.
        var lines = text.Split('\n');
        var index = Array.FindIndex(lines, l => l.Contains("\"keyName\":\"missing\"", StringComparison.Ordinal));
        var sequence = records[3]!["sequence"]!.GetValue<long>();
        lines[index] = lines[index].Replace("\"status\":404", "\"status\":200", StringComparison.Ordinal);
        await File.WriteAllTextAsync(log, string.Join('\n', lines), TestContext.Current.CancellationToken);

        var broken = await cli.RunAsync("keyvault", "audit", "verify", "-n", vault);
        broken.FailedWith("AuditLogBroken");
        Assert.Contains($"record {sequence}", broken.StandardError, StringComparison.Ordinal);
        Assert.Equal(sequence, broken.Json()["firstBrokenSequence"]!.GetValue<long>());
    }

    [Fact]
    public async Task Audit_needs_read_access_to_the_vault_and_an_existing_vault()
    {
        (await server.Cli.RunAsync("keyvault", "audit", "list", "-n", "kvnosuchvault02")).FailedWith("VaultNotFound", expectedExit: 3);
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        (await server.Cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        (await server.Cli.RunAsync("keyvault", "audit", "verify", "-n", "kvnosuchvault02", "-g", group)).FailedWith("ResourceNotFound", expectedExit: 3);
    }

    [Fact]
    public async Task The_audit_api_answers_in_the_arm_envelope_and_needs_vaults_read_on_the_vault()
    {
        var cli = server.Cli;
        var ct = TestContext.Current.CancellationToken;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var vault = $"kv{Guid.NewGuid():N}"[..20];
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        var vaultId = (await cli.RunAsync("keyvault", "create", "-n", vault, "-g", group, "-l", "eastus")).Succeeded().Json()["id"]!.GetValue<string>();
        var auditor = (await cli.RunAsync("ad", "sp", "create", "-n", "auditor")).Succeeded().Json();
        var appId = auditor["appId"]!.GetValue<string>();
        var objectId = (await cli.RunAsync("ad", "sp", "show", "--id", appId)).Succeeded().Json()["id"]!.GetValue<string>();

        using var http = server.Server.CreateHttpClient();
        var baseUrl = server.Server.Endpoints.Json.GetProperty("url").GetString()!.TrimEnd('/');
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = appId,
            ["client_secret"] = auditor["password"]!.GetValue<string>(),
            ["scope"] = "https://management.azure.com/.default",
        });
        using var tokenResponse = await http.PostAsync(new Uri($"{baseUrl}/{server.TenantId}/oauth2/v2.0/token"), form, ct);
        var token = JsonNode.Parse(await tokenResponse.Content.ReadAsStringAsync(ct))!["access_token"]!.GetValue<string>();
        var records = new Uri($"{baseUrl}{vaultId}/auditRecords?api-version=2026-02-01");

        async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, Uri uri, bool withToken)
        {
            using var request = new HttpRequestMessage(method, uri);
            if (withToken)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            var response = await http.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response);
        }

        var anonymous = await SendAsync(HttpMethod.Get, records, withToken: false);
        Assert.Equal((HttpStatusCode.Unauthorized, "AuthenticationFailed"), (anonymous.Status, anonymous.Body!["error"]!["code"]!.GetValue<string>()));
        Assert.NotEmpty(anonymous.Response.Headers.WwwAuthenticate);
        var noVersion = await SendAsync(HttpMethod.Get, new Uri($"{baseUrl}{vaultId}/auditRecords"), withToken: true);
        Assert.Equal((HttpStatusCode.BadRequest, "MissingApiVersionParameter"), (noVersion.Status, noVersion.Body!["error"]!["code"]!.GetValue<string>()));
        var refused = await SendAsync(HttpMethod.Get, records, withToken: true);
        Assert.Equal((HttpStatusCode.Forbidden, "AuthorizationFailed"), (refused.Status, refused.Body!["error"]!["code"]!.GetValue<string>()));
        Assert.Equal("AuthorizationFailed", refused.Response.Headers.GetValues("x-ms-error-code").Single());
        var verifyRefused = await SendAsync(HttpMethod.Post, new Uri($"{baseUrl}{vaultId}/verifyAuditLog?api-version=2026-02-01"), withToken: true);
        Assert.Equal(HttpStatusCode.Forbidden, verifyRefused.Status);

        (await cli.RunAsync("role", "assignment", "create", "--assignee", objectId, "--role", "Reader", "--scope", vaultId)).Succeeded();
        var allowed = await SendAsync(HttpMethod.Get, records, withToken: true);
        Assert.Equal(HttpStatusCode.OK, allowed.Status);
        Assert.NotNull(allowed.Body!["value"]!.AsArray());
        var verified = await SendAsync(HttpMethod.Post, new Uri($"{baseUrl}{vaultId}/verifyAuditLog?api-version=2026-02-01"), withToken: true);
        Assert.Equal(HttpStatusCode.OK, verified.Status);
        Assert.NotNull(verified.Body!["valid"]);
        var badTop = await SendAsync(HttpMethod.Get, new Uri($"{records}&$top=0"), withToken: true);
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidTop"), (badTop.Status, badTop.Body!["error"]!["code"]!.GetValue<string>()));
    }
}
