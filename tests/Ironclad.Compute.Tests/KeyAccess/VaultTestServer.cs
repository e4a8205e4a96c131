// A real `ironclad server` for the key-access, data-key and platform-key tests, on its own slice of
// the keys helper's vault ports (25000-25049), reached the way clients reach it: endpoints.json,
// HTTPS trusting only its CA, ARM for vaults and access policies, the vault data plane for keys,
// and service principals (created over /{tenant}/ironclad/servicePrincipals) whose client-credential
// tokens stand in for managed identities (those get tokens only inside the server).
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.KeyAccess;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Compute.Tests.KeyAccess;

/// <summary>A service principal the tests create; its object id is what access policies grant.</summary>
public sealed record TestPrincipal(Guid ObjectId, Guid AppId, string Secret, Guid TenantId);

public abstract class VaultTestServer : IAsyncLifetime
{
    public const string ManagementScope = "https://management.azure.com/.default";
    public const string VaultScope = "https://vault.azure.net/.default";
    public const string ResourceGroup = "rg-compute-keys";
    public const string Location = "eastus";

    private readonly TempDirectory _directory = new("ironclad-compute-keys");
    private readonly ConcurrentDictionary<Guid, TestPrincipal> _principals = new();
    private IroncladServer? _server;
    private X509Certificate2? _ca;
    private HttpClient? _vaultHttp;

    /// <summary>The vault ports of this fixture (a slice of 25000-25049, disjoint from the other fixtures').</summary>
    protected abstract string VaultPorts { get; }

    protected virtual IReadOnlyList<string> ExtraArguments => [];

    public IroncladServer Server => _server ?? throw new InvalidOperationException("The server has not started.");

    public string DataDirectory => _directory.Combine("data");

    public Guid TenantId => Guid.Parse(Field("tenantId"));

    public Guid SubscriptionId => Guid.Parse(Field("subscriptionId"));

    /// <summary>The vault client's HttpClient exactly as the server builds it (trusts only the local CA, loopback only).</summary>
    public HttpClient VaultHttp => _vaultHttp ?? throw new InvalidOperationException("The server has not started.");

    /// <summary>Tokens of the service principals this fixture created, by object id.</summary>
    public IVaultAccessTokens Tokens => new ServicePrincipalTokens(this);

    public VaultKeyClient CreateVaultKeyClient() => new(VaultHttp, Tokens);

    public async ValueTask InitializeAsync()
    {
        _server = await IroncladServer.StartAsync(DataDirectory, ["--vault-ports", VaultPorts, .. ExtraArguments],
            cancellationToken: TestContext.Current.CancellationToken);
        _ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Server.Endpoints.CaCertificate, TestContext.Current.CancellationToken));
        _vaultHttp = Compute.KeyAccess.VaultHttp.CreateClient(_ca);
        using var http = Server.CreateHttpClient();
        await ArmAsync(HttpMethod.Put, $"/subscriptions/{SubscriptionId}/resourcegroups/{ResourceGroup}?api-version=2025-04-01",
            new JsonObject { ["location"] = Location }, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _vaultHttp?.Dispose();
        _ca?.Dispose();
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }

        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops the server (SIGTERM) and starts it again on the same data directory.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        var exitCode = await Server.StopAsync(cancellationToken: cancellationToken);
        Assert.True(exitCode == 0, $"the server exited {exitCode} on SIGTERM\n{Server.Process.CapturedOutput()}");
        await Server.DisposeAsync();
        _server = null;
        _server = await IroncladServer.StartAsync(DataDirectory, ["--vault-ports", VaultPorts, .. ExtraArguments], cancellationToken: cancellationToken);
    }

    public string Field(string name) => Server.Endpoints.Json.GetProperty(name).GetString()!;

    // ── Tokens and principals ──────────────────────────────────────────────────────────────────

    public Task<string> AdminTokenAsync(string scope, CancellationToken cancellationToken) =>
        TokenAsync(TenantId, Guid.Parse(Field("clientId")), Field("clientSecret"), scope, cancellationToken);

    public async Task<string> TokenAsync(Guid tenantId, Guid appId, string secret, string scope, CancellationToken cancellationToken)
    {
        using var http = Server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{tenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = appId.ToString(),
            ["client_secret"] = secret,
            ["scope"] = scope,
        }), cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>A new service principal with a secret (in the bootstrap tenant).</summary>
    public async Task<TestPrincipal> CreatePrincipalAsync(CancellationToken cancellationToken)
    {
        var token = await AdminTokenAsync(ManagementScope, cancellationToken);
        using var http = Server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/{TenantId}/ironclad/servicePrincipals") { Content = JsonContent.Create(new { displayName = "compute-keys-test" }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"service principal creation failed: {(int)response.StatusCode} {body}");
        var principal = new TestPrincipal(
            Guid.Parse(body.GetProperty("id").GetString()!), Guid.Parse(body.GetProperty("appId").GetString()!),
            body.GetProperty("passwordCredentials")[0].GetProperty("secretText").GetString()!, TenantId);
        _principals[principal.ObjectId] = principal;
        return principal;
    }

    /// <summary>A second tenant's administrator (its tokens are of another tenant than every vault here).</summary>
    public async Task<TestPrincipal> CreateForeignPrincipalAsync(CancellationToken cancellationToken)
    {
        var token = await AdminTokenAsync(ManagementScope, cancellationToken);
        using var http = Server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/{TenantId}/ironclad/tenants") { Content = JsonContent.Create(new { displayName = "foreign" }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"tenant creation failed: {(int)response.StatusCode} {body}");
        var administrator = body.GetProperty("administrator");
        var principal = new TestPrincipal(
            Guid.Parse(administrator.GetProperty("id").GetString()!), Guid.Parse(administrator.GetProperty("appId").GetString()!),
            administrator.GetProperty("passwordCredentials")[0].GetProperty("secretText").GetString()!, Guid.Parse(body.GetProperty("tenantId").GetString()!));
        _principals[principal.ObjectId] = principal;
        return principal;
    }

    // ── Vaults, access policies, keys ──────────────────────────────────────────────────────────

    /// <summary>A vault (soft delete, purge protection) where the administrator has every key permission; returns its origin.</summary>
    public async Task<Uri> CreateVaultAsync(string name, CancellationToken cancellationToken)
    {
        var adminObjectId = Claim(await AdminTokenAsync(ManagementScope, cancellationToken), "oid");
        var vault = await ArmAsync(HttpMethod.Put, VaultPath(name) + "?api-version=2024-11-01", new JsonObject
        {
            ["location"] = Location,
            ["properties"] = new JsonObject
            {
                ["tenantId"] = TenantId.ToString(),
                ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
                ["enableSoftDelete"] = true,
                ["softDeleteRetentionInDays"] = 7,
                ["enablePurgeProtection"] = true,
                ["accessPolicies"] = new JsonArray(Policy(TenantId, adminObjectId,
                    "get", "list", "create", "update", "delete", "recover", "wrapKey", "unwrapKey", "rotate", "purge")),
            },
        }, cancellationToken);
        return new Uri(vault!.Value.GetProperty("properties").GetProperty("vaultUri").GetString()!);
    }

    /// <summary>Adds (PUT accessPolicies/add) key permissions for <paramref name="objectId"/>.</summary>
    public Task GrantAsync(string vaultName, Guid objectId, IEnumerable<string> permissions, CancellationToken cancellationToken) =>
        ArmAsync(HttpMethod.Put, VaultPath(vaultName) + "/accessPolicies/add?api-version=2024-11-01",
            new JsonObject { ["properties"] = new JsonObject { ["accessPolicies"] = new JsonArray(Policy(TenantId, objectId.ToString(), [.. permissions])) } },
            cancellationToken);

    /// <summary>Removes (PUT accessPolicies/remove) the entry of <paramref name="objectId"/>.</summary>
    public Task RevokeAsync(string vaultName, Guid objectId, IEnumerable<string> permissions, CancellationToken cancellationToken) =>
        ArmAsync(HttpMethod.Put, VaultPath(vaultName) + "/accessPolicies/remove?api-version=2024-11-01",
            new JsonObject { ["properties"] = new JsonObject { ["accessPolicies"] = new JsonArray(Policy(TenantId, objectId.ToString(), [.. permissions])) } },
            cancellationToken);

    /// <summary>Creates an RSA key as the administrator; returns its versioned kid.</summary>
    public async Task<KeyReference> CreateKeyAsync(Uri vaultUri, string name, int sizeBits, CancellationToken cancellationToken)
    {
        var body = await VaultAsync(HttpMethod.Post, vaultUri, $"keys/{name}/create", $"{{\"kty\":\"RSA\",\"key_size\":{sizeBits}}}", cancellationToken);
        return KeyReference.Parse(body.GetProperty("key").GetProperty("kid").GetString()!);
    }

    /// <summary>A new version of the key (POST rotate) as the administrator.</summary>
    public async Task<KeyReference> RotateKeyAsync(KeyReference key, CancellationToken cancellationToken)
    {
        var body = await VaultAsync(HttpMethod.Post, key.VaultUri, $"keys/{key.Name}/rotate", null, cancellationToken);
        return KeyReference.Parse(body.GetProperty("key").GetProperty("kid").GetString()!);
    }

    /// <summary>PATCH the version's enabled attribute as the administrator.</summary>
    public Task SetEnabledAsync(KeyReference kid, bool enabled, CancellationToken cancellationToken) =>
        VaultAsync(HttpMethod.Patch, kid.VaultUri, $"keys/{kid.Name}/{kid.Version}", $"{{\"attributes\":{{\"enabled\":{(enabled ? "true" : "false")}}}}}", cancellationToken);

    /// <summary>Lists the vaults the bootstrap administrator sees in its subscription (names).</summary>
    public async Task<IReadOnlyList<string>> ListVaultNamesAsync(CancellationToken cancellationToken)
    {
        var body = await ArmAsync(HttpMethod.Get, $"/subscriptions/{SubscriptionId}/providers/Microsoft.KeyVault/vaults?api-version=2024-11-01", null, cancellationToken);
        return [.. body!.Value.GetProperty("value").EnumerateArray().Select(v => v.GetProperty("name").GetString()!)];
    }

    public async Task<JsonElement?> ArmAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        var token = await AdminTokenAsync(ManagementScope, cancellationToken);
        using var http = Server.CreateHttpClient();
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} failed: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<JsonElement> VaultAsync(HttpMethod method, Uri vaultUri, string path, string? json, CancellationToken cancellationToken)
    {
        var token = await AdminTokenAsync(VaultScope, cancellationToken);
        using var request = new HttpRequestMessage(method, new Uri(vaultUri, path + "?api-version=7.4"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await VaultHttp.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} failed: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private string VaultPath(string name) =>
        $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.KeyVault/vaults/{name}";

    private static JsonObject Policy(Guid tenantId, string objectId, params string[] permissions) => new()
    {
        ["tenantId"] = tenantId.ToString(),
        ["objectId"] = objectId,
        ["permissions"] = new JsonObject { ["keys"] = new JsonArray([.. permissions.Select(p => (JsonNode)p)]) },
    };

    /// <summary>A claim of a JWT's payload (the test reads its own token).</summary>
    public static string Claim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1];
        var json = Convert.FromBase64String(payload.Replace('-', '+').Replace('_', '/').PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '='));
        return JsonDocument.Parse(json).RootElement.GetProperty(name).GetString()!;
    }

    /// <summary>Client-credential tokens (vault audience) of the principals this fixture created, standing in for managed identities.</summary>
    private sealed class ServicePrincipalTokens(VaultTestServer server) : IVaultAccessTokens
    {
        public async ValueTask<string> GetTokenAsync(Guid principalId, bool forceRefresh, CancellationToken cancellationToken)
        {
            if (!server._principals.TryGetValue(principalId, out var principal))
            {
                throw new KeyAccessException(KeyAccessFailure.IdentityRejected, "", $"No test principal {principalId:D}.");
            }

            return await server.TokenAsync(principal.TenantId, principal.AppId, principal.Secret, VaultScope, cancellationToken);
        }
    }
}

/// <summary>The key-access tests' server (vault ports 25000-25019; 25019 never holds a vault).</summary>
public sealed class KeyAccessServer : VaultTestServer
{
    protected override string VaultPorts => "25000-25019";
}
