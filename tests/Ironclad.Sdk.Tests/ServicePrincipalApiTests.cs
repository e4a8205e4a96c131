// /{tenant}/ironclad/servicePrincipals over HTTPS with real tokens: the bearer middleware's
// outcomes (no token, garbage, foreign signature, wrong audience, non-administrator) and the
// administrator's create / list / show / add and reset secret / delete, with the new principal
// signing in through @azure/identity.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class ServicePrincipalApiTests(SdkServer server) : IClassFixture<SdkServer>
{
    private string Collection => $"/{server.TenantId}/ironclad/servicePrincipals";

    [Fact]
    public async Task Administrator_creates_a_principal_that_signs_in_with_the_sdk_then_resets_and_deletes_it()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var admin = await server.GetTokenAsync(cancellationToken: cancellationToken);

        var (status, created) = await SendAsync(HttpMethod.Post, Collection, admin, new { displayName = "ci-app" });
        Assert.Equal(HttpStatusCode.Created, status);
        var appId = created.GetProperty("appId").GetString()!;
        var objectId = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("passwordCredentials")[0].GetProperty("secretText").GetString()!;
        Assert.Equal("ci-app", created.GetProperty("displayName").GetString());

        var token = (await server.RunNodeAsync("identity-token.mjs", new Dictionary<string, string?>
        {
            ["IRONCLAD_CLIENT_ID"] = appId,
            ["IRONCLAD_CLIENT_SECRET"] = secret,
        }, cancellationToken)).EnsureSuccess().GetProperty("token").GetString()!;
        Assert.Equal(objectId, IdentitySdkTests.Claims(token).GetProperty("oid").GetString());

        var (_, list) = await SendAsync(HttpMethod.Get, Collection, admin);
        Assert.Contains(list.GetProperty("value").EnumerateArray(), p => p.GetProperty("appId").GetString() == appId);
        Assert.Contains(list.GetProperty("value").EnumerateArray(), p => p.GetProperty("isDirectoryAdministrator").GetBoolean());

        // The new principal is no administrator.
        var (forbidden, error) = await SendAsync(HttpMethod.Get, Collection, await server.GetTokenAsync(clientId: appId, clientSecret: secret, cancellationToken: cancellationToken));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        Assert.Equal("AuthorizationFailed", error.GetProperty("error").GetProperty("code").GetString());

        // Reset: a new secret replaces the old one.
        var (resetStatus, reset) = await SendAsync(HttpMethod.Post, $"{Collection}/{appId}/passwordCredentials", admin, new { displayName = "rotated" });
        Assert.Equal(HttpStatusCode.Created, resetStatus);
        var newSecret = reset.GetProperty("secretText").GetString()!;
        Assert.Equal(HttpStatusCode.Unauthorized, await TokenStatusAsync(appId, secret));
        Assert.Equal(HttpStatusCode.OK, await TokenStatusAsync(appId, newSecret));

        var (_, shown) = await SendAsync(HttpMethod.Get, $"{Collection}/{objectId}", admin);
        var credential = Assert.Single(shown.GetProperty("passwordCredentials").EnumerateArray());
        Assert.Equal(newSecret[..3], credential.GetProperty("hint").GetString());
        Assert.False(credential.TryGetProperty("secretText", out _), "a secret's text is shown only when created");

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"{Collection}/{appId}", admin)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"{Collection}/{appId}", admin)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, await TokenStatusAsync(appId, newSecret));
    }

    [Fact]
    public async Task Administrator_cannot_delete_itself()
    {
        var admin = await server.GetTokenAsync(cancellationToken: TestContext.Current.CancellationToken);
        var (status, body) = await SendAsync(HttpMethod.Delete, $"{Collection}/{server.ClientId}", admin);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("AdministratorNotDeletable", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Requests_without_a_usable_management_token_are_refused_with_arm_codes()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await AssertRefusedAsync(null, HttpStatusCode.Unauthorized, "AuthenticationFailed");
        await AssertRefusedAsync("not-a-jwt", HttpStatusCode.Unauthorized, "InvalidAuthenticationToken");

        var valid = await server.GetTokenAsync(cancellationToken: cancellationToken);
        var parts = valid.Split('.');
        var badSignature = $"{parts[0]}.{parts[1]}.{parts[2][..^4]}AAAA";
        await AssertRefusedAsync(badSignature, HttpStatusCode.Unauthorized, "InvalidAuthenticationToken");

        var vaultToken = await server.GetTokenAsync("https://vault.azure.net/.default", cancellationToken: cancellationToken);
        await AssertRefusedAsync(vaultToken, HttpStatusCode.Unauthorized, "InvalidAuthenticationToken");

        // The server's own origin is a management audience too (arm-keyvault's default scope).
        var ownOrigin = await server.GetTokenAsync($"{server.BaseUrl}/.default", cancellationToken: cancellationToken);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, Collection, ownOrigin)).Status);
    }

    [Fact]
    public async Task Another_tenants_administrator_gets_tokens_there_but_is_refused_here_as_wrong_tenant()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var (tenantId, clientId, clientSecret) = await server.CreateTenantAsync(cancellationToken);
        Assert.NotEqual(server.TenantId, tenantId);

        var token = await server.GetTokenInTenantAsync(tenantId, clientId, clientSecret, cancellationToken: cancellationToken);
        Assert.Equal(tenantId, IdentitySdkTests.Claims(token).GetProperty("tid").GetString());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, $"/{tenantId}/ironclad/servicePrincipals", token)).Status);
        await AssertRefusedAsync(token, HttpStatusCode.Unauthorized, "InvalidAuthenticationTokenTenant");

        // Its client is unknown in the bootstrap tenant's token endpoint.
        using var http = server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{server.TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
            ["scope"] = SdkServer.ManagementScope,
        }), cancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private async Task AssertRefusedAsync(string? token, HttpStatusCode status, string code)
    {
        var (actual, body) = await SendAsync(HttpMethod.Get, Collection, token);
        Assert.Equal(status, actual);
        Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
    }

    private async Task<HttpStatusCode> TokenStatusAsync(string clientId, string secret)
    {
        using var http = server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{server.TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = secret,
            ["scope"] = SdkServer.ManagementScope,
        }), TestContext.Current.CancellationToken);
        return response.StatusCode;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? token, object? body = null)
    {
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
