// The OAuth2 token endpoint and OpenID metadata over plain HTTPS (no SDK): Entra ID's error shape
// and AADSTS codes for each refusal, the v1 endpoint, client_secret_basic, and the discovery
// document MSAL reads (issuer on the authority's origin).
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class TokenEndpointTests(SdkServer server) : IClassFixture<SdkServer>
{
    [Fact]
    public async Task Wrong_secret_is_401_invalid_client_7000215_in_entra_shape()
    {
        var (status, body) = await PostTokenAsync(Form(secret: "wrong-secret-value"));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        AssertOAuthError(body, "invalid_client", 7000215);
        Assert.DoesNotContain("wrong-secret-value", body.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_client_is_400_unauthorized_client_700016()
    {
        var (status, body) = await PostTokenAsync(Form(clientId: Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertOAuthError(body, "unauthorized_client", 700016);
    }

    [Theory]
    [InlineData("password", "unsupported_grant_type", 70003)]
    [InlineData("authorization_code", "unsupported_grant_type", 70003)]
    [InlineData("", "invalid_request", 900144)]
    public async Task Unsupported_or_missing_grant_type_is_refused(string grantType, string error, int code)
    {
        var (status, body) = await PostTokenAsync(Form(grantType: grantType));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertOAuthError(body, error, code);
    }

    [Theory]
    [InlineData("", "invalid_request", 900144)]
    [InlineData("https://management.azure.com", "invalid_scope", 1002012)]
    [InlineData("https://a/.default https://b/.default", "invalid_scope", 1002012)]
    public async Task Missing_or_invalid_scope_is_refused(string scope, string error, int code)
    {
        var (status, body) = await PostTokenAsync(Form(scope: scope));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertOAuthError(body, error, code);
    }

    [Fact]
    public async Task Missing_secret_is_401_invalid_client()
    {
        var (status, body) = await PostTokenAsync(Form(secret: ""));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        AssertOAuthError(body, "invalid_client", 7000216);
    }

    [Theory]
    [InlineData("11111111-2222-3333-4444-555555555555")]
    [InlineData("contoso.onmicrosoft.com")]
    public async Task Unknown_tenant_is_400_invalid_request_90002(string tenant)
    {
        var (status, body) = await PostTokenAsync(Form(), tenant);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertOAuthError(body, "invalid_request", 90002);
    }

    [Fact]
    public async Task Success_has_bearer_type_expiry_and_a_jwt_and_correlation_id_echoes_the_client_request_id()
    {
        var (status, body) = await PostTokenAsync(Form());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal(3600, body.GetProperty("expires_in").GetInt64());
        Assert.Equal(3600, body.GetProperty("ext_expires_in").GetInt64());
        Assert.Equal(3, body.GetProperty("access_token").GetString()!.Split('.').Length);

        var requestId = Guid.NewGuid().ToString();
        var (_, error) = await PostTokenAsync(Form(secret: "nope"), query: $"?client-request-id={requestId}");
        Assert.Equal(requestId, error.GetProperty("correlation_id").GetString());
    }

    [Fact]
    public async Task Client_secret_basic_is_accepted()
    {
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/{server.TenantId}/oauth2/v2.0/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = SdkServer.ManagementScope }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.ClientId}:{Uri.EscapeDataString(server.ClientSecret)}")));
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task V1_endpoint_takes_resource_and_answers_with_string_numbers()
    {
        var form = Form();
        form.Remove("scope");
        form["resource"] = "https://management.core.windows.net/";
        using var http = server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{server.TenantId}/oauth2/token", UriKind.Relative), new FormUrlEncodedContent(form), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3600", body.GetProperty("expires_in").GetString());
        Assert.Equal("https://management.core.windows.net", body.GetProperty("resource").GetString());
        Assert.Equal("https://management.core.windows.net", IdentitySdkTests.Claims(body.GetProperty("access_token").GetString()!).GetProperty("aud").GetString());
    }

    [Fact]
    public async Task Openid_configuration_names_endpoints_on_the_authority_origin()
    {
        using var http = server.CreateHttpClient();
        var cancellationToken = TestContext.Current.CancellationToken;
        var document = await http.GetFromJsonAsync<JsonElement>($"/{server.TenantId}/v2.0/.well-known/openid-configuration", cancellationToken);
        var authority = $"{server.AuthorityHost}/{server.TenantId}";
        Assert.Equal($"{authority}/v2.0", document.GetProperty("issuer").GetString());
        Assert.Equal($"{authority}/oauth2/v2.0/token", document.GetProperty("token_endpoint").GetString());
        Assert.Equal($"{authority}/oauth2/v2.0/authorize", document.GetProperty("authorization_endpoint").GetString());
        Assert.Equal($"{authority}/discovery/v2.0/keys", document.GetProperty("jwks_uri").GetString());

        var keys = await http.GetFromJsonAsync<JsonElement>(new Uri(document.GetProperty("jwks_uri").GetString()!), cancellationToken);
        var key = Assert.Single(keys.GetProperty("keys").EnumerateArray());
        Assert.Equal("RSA", key.GetProperty("kty").GetString());
        Assert.False(key.TryGetProperty("d", out _), "the JWKS must not publish the private exponent");

        using var unknown = await http.GetAsync(new Uri($"/{Guid.NewGuid()}/v2.0/.well-known/openid-configuration", UriKind.Relative), cancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
    }

    private Dictionary<string, string> Form(string? clientId = null, string? secret = null, string? scope = null, string grantType = "client_credentials")
    {
        var form = new Dictionary<string, string>
        {
            ["client_id"] = clientId ?? server.ClientId,
            ["client_secret"] = secret ?? server.ClientSecret,
            ["scope"] = scope ?? SdkServer.ManagementScope,
            ["grant_type"] = grantType,
        };
        foreach (var empty in form.Where(p => p.Value.Length == 0).Select(p => p.Key).ToList())
        {
            form.Remove(empty);
        }

        return form;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostTokenAsync(Dictionary<string, string> form, string? tenant = null, string query = "")
    {
        using var http = server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{tenant ?? server.TenantId}/oauth2/v2.0/token{query}", UriKind.Relative),
            new FormUrlEncodedContent(form), TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken));
    }

    private static void AssertOAuthError(JsonElement body, string error, int code)
    {
        Assert.Equal(error, body.GetProperty("error").GetString());
        Assert.StartsWith($"AADSTS{code}:", body.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        Assert.Equal([code], body.GetProperty("error_codes").EnumerateArray().Select(e => e.GetInt32()));
        foreach (var field in new[] { "timestamp", "trace_id", "correlation_id" })
        {
            Assert.False(string.IsNullOrEmpty(body.GetProperty(field).GetString()), field);
        }
    }
}
