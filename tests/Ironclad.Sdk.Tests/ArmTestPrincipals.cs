// Extra principals for the Resource Manager tests. There is no HTTP API to create service principals
// yet, so they are written through the identity library into the running server's metadata database
// (SQLite WAL: the server sees them at once, as it reads principals from the store per request).
using System.Net.Http.Json;
using System.Text.Json;
using Ironclad.Identity.Principals;
using Ironclad.Identity.Store;
using Ironclad.Metadata;

namespace Ironclad.Sdk.Tests;

internal sealed record TestPrincipal(Guid TenantId, Guid ObjectId, Guid AppId, string Secret);

internal static class ArmTestPrincipals
{
    private static SqliteIdentityStore Store(SdkServer server) =>
        new(MetadataDatabase.Open(Path.Combine(server.DataDirectory, "metadata.db")));

    /// <summary>A new application service principal with one secret, in <paramref name="tenantId"/> (default: the bootstrap tenant).</summary>
    public static TestPrincipal Create(SdkServer server, Guid? tenantId = null)
    {
        var store = Store(server);
        var tenant = tenantId ?? Guid.Parse(server.TenantId);
        var now = DateTimeOffset.UtcNow;
        var principal = new ServicePrincipal(Guid.NewGuid(), Guid.NewGuid(), tenant, "arm-test-" + Guid.NewGuid().ToString("N")[..8],
            PrincipalKind.Application, null, now);
        store.AddPrincipal(principal);
        var secret = ClientSecrets.Generate();
        store.AddSecret(new ClientSecretRecord(Guid.NewGuid(), principal.ObjectId, ClientSecrets.Hash(secret), secret[..3], "test", now, now.AddHours(2)));
        return new TestPrincipal(tenant, principal.ObjectId, principal.AppId, secret);
    }

    /// <summary>A second tenant (no subscription of its own).</summary>
    public static Guid CreateTenant(SdkServer server)
    {
        var tenant = new Tenant(Guid.NewGuid(), "other-tenant", DateTimeOffset.UtcNow);
        Store(server).AddTenant(tenant);
        return tenant.TenantId;
    }

    /// <summary>A token for <paramref name="principal"/> from its tenant's token endpoint, over plain HTTPS.</summary>
    public static async Task<string> TokenAsync(SdkServer server, TestPrincipal principal, string scope = SdkServer.ManagementScope,
        CancellationToken cancellationToken = default)
    {
        using var http = server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{principal.TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(
            new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = principal.AppId.ToString(),
                ["client_secret"] = principal.Secret,
                ["scope"] = scope,
            }), cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        return body.GetProperty("access_token").GetString()!;
    }
}
