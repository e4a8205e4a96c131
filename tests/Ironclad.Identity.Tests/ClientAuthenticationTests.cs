// Client credentials against the store: right secret, wrong secret, expired secret, unknown
// client, unknown tenant, another tenant's client; secrets added, listed and removed.
using Ironclad.Identity.Principals;
using Ironclad.Identity.Tokens;

namespace Ironclad.Identity.Tests;

public sealed class ClientAuthenticationTests
{
    [Fact]
    public void Right_secret_authenticates_and_wrong_secret_does_not()
    {
        using var fixture = new IdentityFixture();
        var (tenant, principal, secret) = fixture.CreateApplication();

        var ok = fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, secret);
        Assert.True(ok.Succeeded);
        Assert.Equal(principal, ok.Principal);

        Assert.Equal(ClientAuthenticationError.InvalidSecret, fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, secret + "x").Error);
        Assert.Equal(ClientAuthenticationError.InvalidSecret, fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, "").Error);
    }

    [Fact]
    public void Expired_secret_is_refused_as_expired_while_another_secret_still_works()
    {
        using var fixture = new IdentityFixture();
        var (tenant, principal, longLived) = fixture.CreateApplication();
        var (_, shortLived) = fixture.Provider.AddSecret(principal.ObjectId, "short", fixture.Time.GetUtcNow().AddHours(1));
        Assert.True(fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, shortLived).Succeeded);

        fixture.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(ClientAuthenticationError.ExpiredSecret, fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, shortLived).Error);
        Assert.True(fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, longLived).Succeeded);
    }

    [Fact]
    public void Unknown_client_unknown_tenant_and_another_tenants_client_are_refused()
    {
        using var fixture = new IdentityFixture();
        var (tenant, principal, secret) = fixture.CreateApplication();
        var other = fixture.Provider.CreateTenant("Fabrikam");

        Assert.Equal(ClientAuthenticationError.UnknownClient, fixture.Provider.AuthenticateClient(tenant.TenantId, Guid.NewGuid(), secret).Error);
        Assert.Equal(ClientAuthenticationError.UnknownTenant, fixture.Provider.AuthenticateClient(Guid.NewGuid(), principal.AppId, secret).Error);
        Assert.Equal(ClientAuthenticationError.UnknownClient, fixture.Provider.AuthenticateClient(other.TenantId, principal.AppId, secret).Error);
    }

    [Fact]
    public void Secrets_are_40_characters_listed_by_hint_and_removable()
    {
        using var fixture = new IdentityFixture();
        var (tenant, principal, first) = fixture.CreateApplication();
        var (record, second) = fixture.Provider.AddSecret(principal.ObjectId, "second");

        Assert.Equal(ClientSecrets.SecretLengthChars, first.Length);
        Assert.NotEqual(first, second);
        var listed = fixture.Provider.ListSecrets(principal.ObjectId);
        Assert.Equal(2, listed.Count);
        Assert.Contains(listed, s => s.KeyId == record.KeyId && s.Hint == second[..3] && s.DisplayName == "second");

        Assert.True(fixture.Provider.RemoveSecret(principal.ObjectId, record.KeyId));
        Assert.False(fixture.Provider.RemoveSecret(principal.ObjectId, record.KeyId));
        Assert.Equal(ClientAuthenticationError.InvalidSecret, fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, second).Error);
        Assert.True(fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, first).Succeeded);
    }

    [Fact]
    public void Deleting_a_service_principal_deletes_its_secrets_and_it_can_no_longer_sign_in()
    {
        using var fixture = new IdentityFixture();
        var (tenant, principal, secret) = fixture.CreateApplication();
        Assert.True(fixture.Provider.DeleteServicePrincipal(principal.ObjectId));
        Assert.Empty(fixture.Provider.ListSecrets(principal.ObjectId));
        Assert.Null(fixture.Provider.FindPrincipal(principal.ObjectId));
        Assert.Equal(ClientAuthenticationError.UnknownClient, fixture.Provider.AuthenticateClient(tenant.TenantId, principal.AppId, secret).Error);
    }
}
