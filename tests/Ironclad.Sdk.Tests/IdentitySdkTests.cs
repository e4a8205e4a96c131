// @azure/identity (the real npm package) against the real server: ClientSecretCredential with
// authorityHost + disableInstanceDiscovery gets tokens whose claims are ours and whose signature the
// server's published JWKS verifies; a wrong secret surfaces as the SDK's error carrying the AADSTS code.
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ironclad.Sdk.Tests;

public sealed class IdentitySdkTests(SdkServer server) : IClassFixture<SdkServer>
{
    [Fact]
    public async Task ClientSecretCredential_gets_a_management_token_that_the_servers_jwks_verifies()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = (await server.RunNodeAsync("identity-token.mjs", cancellationToken: cancellationToken)).EnsureSuccess();
        var token = output.GetProperty("token").GetString()!;
        Assert.True(output.GetProperty("expiresOnTimestamp").GetInt64() > DateTimeOffset.UtcNow.AddMinutes(50).ToUnixTimeMilliseconds());

        var claims = Claims(token);
        Assert.Equal("https://management.azure.com", claims.GetProperty("aud").GetString());
        Assert.Equal(server.TenantId, claims.GetProperty("tid").GetString());
        Assert.Equal(server.ClientId, claims.GetProperty("appid").GetString());
        Assert.Equal($"{server.AuthorityHost}/{server.TenantId}/v2.0", claims.GetProperty("iss").GetString());
        Assert.True(Guid.TryParse(claims.GetProperty("oid").GetString(), out _));

        var validation = await ValidateWithPublishedKeysAsync(token, "https://management.azure.com", cancellationToken);
        Assert.True(validation.IsValid, validation.Exception?.Message);

        // A token from elsewhere (same claims, another key) does not verify against the JWKS.
        using var foreignKey = System.Security.Cryptography.RSA.Create(2048);
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = $"{server.AuthorityHost}/{server.TenantId}/v2.0",
            Audience = "https://management.azure.com",
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(foreignKey) { KeyId = Header(token).GetProperty("kid").GetString() }, SecurityAlgorithms.RsaSha256),
        });
        Assert.False((await ValidateWithPublishedKeysAsync(forged, "https://management.azure.com", cancellationToken)).IsValid);
    }

    [Fact]
    public async Task Any_scope_gives_a_token_for_that_resource_such_as_the_arm_endpoint_itself()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = (await server.RunNodeAsync("identity-token.mjs",
            new Dictionary<string, string?> { ["IRONCLAD_SCOPE"] = $"{server.BaseUrl}/.default" }, cancellationToken)).EnsureSuccess();
        Assert.Equal(server.BaseUrl, Claims(output.GetProperty("token").GetString()!).GetProperty("aud").GetString());
    }

    [Fact]
    public async Task Wrong_secret_is_an_authentication_error_with_the_aadsts_code()
    {
        var result = await server.RunNodeAsync("identity-token.mjs", new Dictionary<string, string?>
        {
            ["IRONCLAD_CLIENT_ID"] = server.ClientId,
            ["IRONCLAD_CLIENT_SECRET"] = "not-the-secret-not-the-secret-not-the-se",
        }, TestContext.Current.CancellationToken);
        var error = result.EnsureError();
        // @azure/identity 4.13.1 wraps MSAL's ServerError for a 401 invalid_client as AuthenticationRequiredError.
        Assert.Equal("AuthenticationRequiredError", error.GetProperty("name").GetString());
        Assert.Contains("AADSTS7000215", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", result.Tool.CombinedOutput, StringComparison.Ordinal);
    }

    private async Task<TokenValidationResult> ValidateWithPublishedKeysAsync(string token, string audience, CancellationToken cancellationToken)
    {
        using var http = server.CreateHttpClient();
        var openId = JsonDocument.Parse(await http.GetStringAsync(new Uri($"/{server.TenantId}/v2.0/.well-known/openid-configuration", UriKind.Relative), cancellationToken)).RootElement;
        var jwks = new JsonWebKeySet(await http.GetStringAsync(new Uri(openId.GetProperty("jwks_uri").GetString()!), cancellationToken));
        return await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = openId.GetProperty("issuer").GetString(),
            ValidAudience = audience,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
        });
    }

    internal static JsonElement Claims(string jwt) => Decode(jwt.Split('.')[1]);

    internal static JsonElement Header(string jwt) => Decode(jwt.Split('.')[0]);

    private static JsonElement Decode(string part) => JsonDocument.Parse(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(part))).RootElement.Clone();
}
