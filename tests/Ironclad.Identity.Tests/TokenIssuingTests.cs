// Issuing and validating access tokens against a real SQLite store and a fake clock: claims,
// lifetime and clock skew, issuer and tenant checks, foreign or tampered signatures.
using System.Text;
using System.Text.Json;
using Ironclad.Identity.Store;
using Ironclad.Identity.Tokens;
using Microsoft.IdentityModel.Tokens;

namespace Ironclad.Identity.Tests;

public sealed class TokenIssuingTests
{
    [Fact]
    public async Task Issued_token_carries_the_entra_v2_claims_and_validates_to_the_caller()
    {
        using var fixture = new IdentityFixture();
        var (tenant, principal, _) = fixture.CreateApplication();
        var token = fixture.Provider.IssueToken(principal, "https://management.azure.com");

        var claims = Payload(token.AccessToken);
        var now = fixture.Time.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal($"{IdentityFixture.Authority}/{tenant.TenantId}/v2.0", claims.GetProperty("iss").GetString());
        Assert.Equal("https://management.azure.com", claims.GetProperty("aud").GetString());
        Assert.Equal(tenant.TenantId.ToString(), claims.GetProperty("tid").GetString());
        Assert.Equal(principal.ObjectId.ToString(), claims.GetProperty("oid").GetString());
        Assert.Equal(principal.ObjectId.ToString(), claims.GetProperty("sub").GetString());
        Assert.Equal(principal.AppId.ToString(), claims.GetProperty("appid").GetString());
        Assert.Equal(principal.AppId.ToString(), claims.GetProperty("azp").GetString());
        Assert.Equal("app", claims.GetProperty("idtyp").GetString());
        Assert.Equal("2.0", claims.GetProperty("ver").GetString());
        Assert.Equal(now, claims.GetProperty("iat").GetInt64());
        Assert.Equal(now, claims.GetProperty("nbf").GetInt64());
        Assert.Equal(now + 3600, claims.GetProperty("exp").GetInt64());
        Assert.Equal(3600, token.ExpiresInSeconds);
        Assert.Equal("RS256", Header(token.AccessToken).GetProperty("alg").GetString());

        var validation = await fixture.Provider.ValidateTokenAsync(token.AccessToken, TestContext.Current.CancellationToken);
        Assert.True(validation.IsValid, validation.Rejection?.Message);
        Assert.Equal(new CallerIdentity(tenant.TenantId, principal.ObjectId, principal.AppId, "https://management.azure.com", PrincipalType.ServicePrincipal),
            validation.Caller);
    }

    [Fact]
    public async Task Token_is_valid_until_expiry_plus_clock_skew_and_expired_after()
    {
        using var fixture = new IdentityFixture(tokenLifetime: TimeSpan.FromSeconds(60), clockSkew: TimeSpan.FromSeconds(30));
        var (_, principal, _) = fixture.CreateApplication();
        var token = fixture.Provider.IssueToken(principal, "https://management.azure.com").AccessToken;
        var cancellationToken = TestContext.Current.CancellationToken;

        fixture.Time.Advance(TimeSpan.FromSeconds(60 + 30));
        Assert.True((await fixture.Provider.ValidateTokenAsync(token, cancellationToken)).IsValid, "inside the skew");

        fixture.Time.Advance(TimeSpan.FromSeconds(1));
        var expired = await fixture.Provider.ValidateTokenAsync(token, cancellationToken);
        Assert.Equal(TokenRejectionReason.Expired, expired.Rejection?.Reason);
        Assert.DoesNotContain(token, expired.Rejection!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Zero_clock_skew_expires_the_token_exactly_after_its_lifetime()
    {
        using var fixture = new IdentityFixture(tokenLifetime: TimeSpan.FromSeconds(10), clockSkew: TimeSpan.Zero);
        var (_, principal, _) = fixture.CreateApplication();
        var token = fixture.Provider.IssueToken(principal, "api://x").AccessToken;
        fixture.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.True((await fixture.Provider.ValidateTokenAsync(token, TestContext.Current.CancellationToken)).IsValid);
        fixture.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TokenRejectionReason.Expired, (await fixture.Provider.ValidateTokenAsync(token, TestContext.Current.CancellationToken)).Rejection?.Reason);
    }

    [Fact]
    public async Task Token_signed_by_another_identity_provider_is_refused_as_invalid_signature()
    {
        using var ours = new IdentityFixture();
        using var foreign = new IdentityFixture();
        var (tenant, principal, _) = ours.CreateApplication();
        // Same tenant and principal ids, same issuer: only the key differs.
        foreign.Provider.CreateTenant("Contoso", tenant.TenantId);
        var forged = foreign.Provider.IssueToken(principal, "https://management.azure.com").AccessToken;

        var validation = await ours.Provider.ValidateTokenAsync(forged, TestContext.Current.CancellationToken);
        Assert.Equal(TokenRejectionReason.InvalidSignature, validation.Rejection?.Reason);
    }

    [Fact]
    public async Task Token_with_a_changed_payload_or_no_signature_is_refused()
    {
        using var fixture = new IdentityFixture();
        var (_, principal, _) = fixture.CreateApplication();
        var parts = fixture.Provider.IssueToken(principal, "https://management.azure.com").AccessToken.Split('.');
        var cancellationToken = TestContext.Current.CancellationToken;

        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("management.azure.com", "vault.azure.net", StringComparison.Ordinal);
        var tampered = $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}";
        Assert.False((await fixture.Provider.ValidateTokenAsync(tampered, cancellationToken)).IsValid);

        var unsigned = $"{Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{parts[1]}.";
        Assert.False((await fixture.Provider.ValidateTokenAsync(unsigned, cancellationToken)).IsValid);

        Assert.Equal(TokenRejectionReason.Malformed, (await fixture.Provider.ValidateTokenAsync("not-a-jwt", cancellationToken)).Rejection?.Reason);
        Assert.Equal(TokenRejectionReason.Malformed, (await fixture.Provider.ValidateTokenAsync("", cancellationToken)).Rejection?.Reason);
    }

    [Fact]
    public async Task Token_of_an_unknown_tenant_is_refused_as_tenant_failure()
    {
        using var fixture = new IdentityFixture();
        var stranger = new ServicePrincipal(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "stranger", PrincipalKind.Application, null, fixture.Time.GetUtcNow());
        var token = fixture.Provider.IssueToken(stranger, "https://management.azure.com").AccessToken;

        var validation = await fixture.Provider.ValidateTokenAsync(token, TestContext.Current.CancellationToken);
        Assert.Equal(TokenRejectionReason.UnknownTenant, validation.Rejection?.Reason);
    }

    [Fact]
    public async Task Token_from_another_authority_origin_is_refused_as_invalid_issuer()
    {
        using var fixture = new IdentityFixture();
        var (_, principal, _) = fixture.CreateApplication();
        var token = fixture.Provider.IssueToken(principal, "https://management.azure.com").AccessToken;
        fixture.Options.AuthorityHost = "https://127.0.0.1:9999";

        var validation = await fixture.Provider.ValidateTokenAsync(token, TestContext.Current.CancellationToken);
        Assert.Equal(TokenRejectionReason.InvalidIssuer, validation.Rejection?.Reason);
    }

    [Theory]
    [InlineData("https://management.azure.com/.default", "https://management.azure.com")]
    [InlineData("https://management.azure.com//.default", "https://management.azure.com")]
    [InlineData("https://127.0.0.1:8443/.default", "https://127.0.0.1:8443")]
    [InlineData("https://vault.azure.net/.default openid profile offline_access", "https://vault.azure.net")]
    [InlineData("api://anything/.default", "api://anything")]
    public void Scope_gives_the_resource_as_audience(string scope, string audience)
    {
        Assert.True(TokenAudience.TryFromScope(scope, out var actual));
        Assert.Equal(audience, actual);
    }

    [Theory]
    [InlineData("")]
    [InlineData("https://management.azure.com")]
    [InlineData("https://management.azure.com/user_impersonation")]
    [InlineData("https://a/.default https://b/.default")]
    [InlineData("/.default")]
    public void Scope_without_exactly_one_default_resource_is_refused(string scope) =>
        Assert.False(TokenAudience.TryFromScope(scope, out _));

    internal static JsonElement Payload(string jwt) => Decode(jwt.Split('.')[1]);

    internal static JsonElement Header(string jwt) => Decode(jwt.Split('.')[0]);

    private static JsonElement Decode(string part) => JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(part)).RootElement.Clone();
}
