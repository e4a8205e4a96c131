// The authorization matrix of Resource Manager over plain HTTPS with tokens from the real token
// endpoint: no token, wrong audience, wrong tenant, foreign signature, insufficient role, sufficient
// role (and, in its own server with 2-second tokens, an expired token) — each answered with the
// expected status and ARM error code, and every write attempt recorded in the activity log.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ironclad.Sdk.Tests;

public sealed class ArmAuthorizationMatrixTests(SdkServer server) : IClassFixture<SdkServer>
{
    private const string GroupsApi = "api-version=2025-04-01";

    private string GroupPath(string name) => $"/subscriptions/{server.SubscriptionId}/resourcegroups/{name}?{GroupsApi}";

    [Fact]
    public async Task Each_kind_of_caller_gets_the_expected_status_and_code_and_every_write_is_in_the_activity_log()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = DateTimeOffset.UtcNow.AddSeconds(-5);
        var admin = await server.GetTokenAsync(cancellationToken: ct);

        // No token: 401 AuthenticationFailed with the bearer challenge.
        using (var response = await SendAsync(HttpMethod.Put, GroupPath("matrix-none"), null, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "AuthenticationFailed", ct);
            var challenge = response.Headers.WwwAuthenticate.ToString();
            Assert.StartsWith("Bearer authorization_uri=\"" + server.BaseUrl + "/" + server.TenantId + "/oauth2/authorize\"", challenge, StringComparison.Ordinal);
            Assert.Contains("error=\"invalid_token\"", challenge, StringComparison.Ordinal);
        }

        // Wrong audience: a Key Vault token is no management token.
        var vaultToken = await server.GetTokenAsync("https://vault.azure.net/.default", cancellationToken: ct);
        using (var response = await SendAsync(HttpMethod.Put, GroupPath("matrix-audience"), vaultToken, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "InvalidAuthenticationToken", ct);
        }

        // This server's own URL is a management audience too (arm-keyvault/arm-authorization default scope).
        var selfToken = await server.GetTokenAsync(server.BaseUrl + "/.default", cancellationToken: ct);
        using (var response = await SendAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}?api-version=2022-12-01", selfToken, ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Wrong tenant: a valid token of another tenant does not act on this tenant's subscription.
        var stranger = ArmTestPrincipals.Create(server, ArmTestPrincipals.CreateTenant(server));
        var strangerToken = await ArmTestPrincipals.TokenAsync(server, stranger, cancellationToken: ct);
        using (var response = await SendAsync(HttpMethod.Put, GroupPath("matrix-tenant"), strangerToken, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "InvalidAuthenticationTokenTenant", ct);
        }

        // Foreign signature: the administrator's claims, signed by a key the server never issued.
        using (var response = await SendAsync(HttpMethod.Put, GroupPath("matrix-forged"), Forge(admin), ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "InvalidAuthenticationToken", ct);
        }

        // Insufficient role: a principal of the tenant with no role, then with Reader on the subscription.
        var reader = ArmTestPrincipals.Create(server);
        var readerToken = await ArmTestPrincipals.TokenAsync(server, reader, cancellationToken: ct);
        using (var response = await SendAsync(HttpMethod.Get, GroupPath("matrix-ok"), readerToken, ct))
        {
            var error = await AssertErrorAsync(response, HttpStatusCode.Forbidden, "AuthorizationFailed", ct);
            Assert.Equal(
                $"The client '{reader.ObjectId}' with object id '{reader.ObjectId}' does not have authorization to perform action "
                + $"'Microsoft.Resources/subscriptions/resourceGroups/read' over scope '/subscriptions/{server.SubscriptionId}/resourceGroups/matrix-ok' "
                + "or the scope is invalid. If access was recently granted, please refresh your credentials.",
                error.GetProperty("message").GetString());
        }

        var assignment = Guid.NewGuid();
        using (var response = await SendAsync(HttpMethod.Put,
            $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Authorization/roleAssignments/{assignment}?api-version=2022-04-01", admin, ct,
            new { properties = new { roleDefinitionId = $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", principalId = reader.ObjectId } }))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        // Sufficient role: the administrator (Owner) creates the group.
        using (var response = await SendAsync(HttpMethod.Put, GroupPath("matrix-ok"), admin, ct, new { location = "eastus" }))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
            Assert.True(response.Headers.Contains("x-ms-request-id"));
        }

        using (var response = await SendAsync(HttpMethod.Get, GroupPath("MATRIX-OK"), readerToken, ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"/subscriptions/{server.SubscriptionId}/resourceGroups/matrix-ok",
                (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString());
        }

        using (var response = await SendAsync(HttpMethod.Delete, GroupPath("matrix-ok"), readerToken, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.Forbidden, "AuthorizationFailed", ct);
        }

        // The activity log has every write attempt on the groups above, with its outcome and caller.
        var filter = Uri.EscapeDataString($"eventTimestamp ge '{started:O}' and eventTimestamp le '{DateTimeOffset.UtcNow.AddMinutes(1):O}'");
        using var log = await SendAsync(HttpMethod.Get,
            $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={filter}", admin, ct);
        Assert.Equal(HttpStatusCode.OK, log.StatusCode);
        var events = (await log.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("value").EnumerateArray()
            .Select(e => (
                Resource: e.GetProperty("resourceId").GetString()!.Split('/')[^1],
                Status: e.GetProperty("properties").GetProperty("statusCode").GetString(),
                Result: e.GetProperty("status").GetProperty("value").GetString(),
                Caller: e.GetProperty("caller").ValueKind == JsonValueKind.String ? e.GetProperty("caller").GetString() : null,
                Code: e.GetProperty("properties").TryGetProperty("errorCode", out var code) ? code.GetString() : null))
            .ToList();
        Assert.Contains(("matrix-none", "401", "Failed", (string?)null, "AuthenticationFailed"), events);
        Assert.Contains(("matrix-audience", "401", "Failed", (string?)null, "InvalidAuthenticationToken"), events);
        // The foreign tenant's token is valid, so its caller is known, though refused.
        Assert.Contains(("matrix-tenant", "401", "Failed", stranger.ObjectId.ToString(), "InvalidAuthenticationTokenTenant"), events);
        Assert.Contains(("matrix-forged", "401", "Failed", (string?)null, "InvalidAuthenticationToken"), events);
        Assert.Contains(("matrix-ok", "201", "Succeeded", Claim(admin, "oid"), (string?)null), events);
        Assert.Contains(("matrix-ok", "403", "Failed", reader.ObjectId.ToString(), "AuthorizationFailed"), events);
        Assert.Contains((assignment.ToString(), "201", "Succeeded", Claim(admin, "oid"), (string?)null), events);
        // Reads are not writes: the reader's GETs left no event.
        Assert.DoesNotContain(events, e => e.Caller == reader.ObjectId.ToString() && e.Status == "200");
    }

    [Fact]
    public async Task Api_version_is_required_and_must_be_well_formed_and_any_casing_routes()
    {
        var ct = TestContext.Current.CancellationToken;
        var admin = await server.GetTokenAsync(cancellationToken: ct);
        using (var response = await SendAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}", admin, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "MissingApiVersionParameter", ct);
        }

        using (var response = await SendAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}?api-version=latest", admin, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "InvalidApiVersionParameter", ct);
        }

        using (var response = await SendAsync(HttpMethod.Get, $"/SUBSCRIPTIONS/{server.SubscriptionId.ToUpperInvariant()}?api-version=2099-01-01-preview", admin, ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"/subscriptions/{server.SubscriptionId}", (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString());
        }

        using (var response = await SendAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/resourceGroups/absent?{GroupsApi}", admin, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.NotFound, "ResourceGroupNotFound", ct);
        }

        using (var response = await SendAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Contoso.Nothing/things?api-version=2020-01-01", admin, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.NotFound, "InvalidResourceNamespace", ct);
        }

        using (var response = await SendAsync(HttpMethod.Get, $"/subscriptions/{Guid.NewGuid()}?api-version=2022-12-01", admin, ct))
        {
            await AssertErrorAsync(response, HttpStatusCode.NotFound, "SubscriptionNotFound", ct);
        }
    }

    [Fact]
    public async Task Lists_page_with_absolute_next_links_until_the_last_page()
    {
        var ct = TestContext.Current.CancellationToken;
        var admin = await server.GetTokenAsync(cancellationToken: ct);
        for (var i = 0; i < 5; i++)
        {
            using var put = await SendAsync(HttpMethod.Put, GroupPath($"paging{i}"), admin, ct, new { location = "eastus" });
            Assert.True(put.IsSuccessStatusCode);
        }

        var names = new List<string>();
        var pages = 0;
        string? next = $"{server.BaseUrl}/subscriptions/{server.SubscriptionId}/resourcegroups?{GroupsApi}&$top=2";
        while (next is not null)
        {
            Assert.StartsWith(server.BaseUrl + "/", next, StringComparison.Ordinal);
            using var response = await SendAsync(HttpMethod.Get, next, admin, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            var value = page.GetProperty("value").EnumerateArray().Select(g => g.GetProperty("name").GetString()!).ToList();
            Assert.InRange(value.Count, 1, 2);
            names.AddRange(value);
            pages++;
            next = page.TryGetProperty("nextLink", out var link) ? link.GetString() : null;
        }

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Superset(Enumerable.Range(0, 5).Select(i => $"paging{i}").ToHashSet(), names.ToHashSet());
        Assert.Equal((names.Count + 1) / 2, pages);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathOrUrl, string? token, CancellationToken ct, object? body = null)
    {
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(method, new Uri(pathOrUrl, UriKind.RelativeOrAbsolute));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        request.Headers.Add("x-ms-client-request-id", Guid.NewGuid().ToString());
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await http.SendAsync(request, ct);
    }

    internal static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(status == response.StatusCode, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal(code, Assert.Single(response.Headers.GetValues("x-ms-error-code")));
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        return error.Clone();
    }

    internal static string Claim(string jwt, string name) =>
        JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.Split('.')[1])).RootElement.GetProperty(name).ToString();

    /// <summary>The token's header kid and claims, re-signed with a fresh RSA key.</summary>
    private static string Forge(string jwt)
    {
        using var key = RSA.Create(2048);
        var header = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.Split('.')[0])).RootElement;
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(jwt.Split('.')[1]));
        return new JsonWebTokenHandler().CreateToken(payload,
            new SigningCredentials(new RsaSecurityKey(key) { KeyId = header.GetProperty("kid").GetString() }, SecurityAlgorithms.RsaSha256));
    }
}
