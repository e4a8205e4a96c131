// Managed identities: created and deleted with their resource, no secrets, no client-credentials
// sign-in; tokens only through the platform credential, which is handed out once and works only
// with the provider that issued it.
using Ironclad.Identity.Store;
using Ironclad.Identity.Tokens;

namespace Ironclad.Identity.Tests;

public sealed class ManagedIdentityTests
{
    private const string DiskEncryptionSet = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Compute/diskEncryptionSets/des1";
    private const string UserAssigned = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1";

    [Fact]
    public async Task System_assigned_identity_gets_a_token_through_the_platform_credential_only()
    {
        using var fixture = new IdentityFixture();
        var tenant = fixture.Provider.CreateTenant("Contoso");
        var platform = fixture.Provider.CreatePlatformCredential();
        var identity = fixture.Provider.EnsureSystemAssignedIdentity(tenant.TenantId, DiskEncryptionSet);
        Assert.Equal(PrincipalKind.SystemAssigned, identity.Kind);
        Assert.Equal("des1", identity.DisplayName);
        Assert.Equal(identity, fixture.Provider.EnsureSystemAssignedIdentity(tenant.TenantId, DiskEncryptionSet));

        var token = fixture.Provider.IssueManagedIdentityToken(platform, identity.ObjectId, "https://vault.azure.net");
        var claims = TokenIssuingTests.Payload(token.AccessToken);
        Assert.Equal("https://vault.azure.net", claims.GetProperty("aud").GetString());
        Assert.Equal(DiskEncryptionSet, claims.GetProperty(IdentityProvider.ManagedIdentityResourceClaim).GetString());

        var validation = await fixture.Provider.ValidateTokenAsync(token.AccessToken, TestContext.Current.CancellationToken);
        Assert.Equal(new CallerIdentity(tenant.TenantId, identity.ObjectId, identity.AppId, "https://vault.azure.net", PrincipalType.ManagedIdentity),
            validation.Caller);

        // The /.default scope form gives the same audience.
        Assert.Equal("https://vault.azure.net", fixture.Provider.IssueManagedIdentityToken(platform, identity.ObjectId, "https://vault.azure.net/.default").Audience);
    }

    [Fact]
    public void Platform_credential_is_handed_out_once_and_only_works_with_its_own_provider()
    {
        using var ours = new IdentityFixture();
        using var other = new IdentityFixture();
        var tenant = ours.Provider.CreateTenant("Contoso");
        var identity = ours.Provider.EnsureSystemAssignedIdentity(tenant.TenantId, DiskEncryptionSet);
        var platform = ours.Provider.CreatePlatformCredential();
        Assert.Throws<InvalidOperationException>(() => ours.Provider.CreatePlatformCredential());

        var foreign = other.Provider.CreatePlatformCredential();
        Assert.Throws<UnauthorizedAccessException>(() => ours.Provider.IssueManagedIdentityToken(foreign, identity.ObjectId, "https://vault.azure.net"));
        Assert.NotNull(ours.Provider.IssueManagedIdentityToken(platform, identity.ObjectId, "https://vault.azure.net"));
    }

    [Fact]
    public void Managed_identities_cannot_sign_in_with_client_credentials_or_get_secrets()
    {
        using var fixture = new IdentityFixture();
        var tenant = fixture.Provider.CreateTenant("Contoso");
        var identity = fixture.Provider.EnsureUserAssignedIdentity(tenant.TenantId, UserAssigned);

        Assert.Equal(ClientAuthenticationError.ManagedIdentity, fixture.Provider.AuthenticateClient(tenant.TenantId, identity.AppId, "anything").Error);
        Assert.Throws<InvalidOperationException>(() => fixture.Provider.AddSecret(identity.ObjectId));
        Assert.Throws<InvalidOperationException>(() => fixture.Provider.DeleteServicePrincipal(identity.ObjectId));
    }

    [Fact]
    public void Platform_path_refuses_an_application_principal()
    {
        using var fixture = new IdentityFixture();
        var (_, application, _) = fixture.CreateApplication();
        var platform = fixture.Provider.CreatePlatformCredential();
        Assert.Throws<InvalidOperationException>(() => fixture.Provider.IssueManagedIdentityToken(platform, application.ObjectId, "https://vault.azure.net"));
    }

    [Fact]
    public void Deleting_the_resource_deletes_its_system_assigned_identity_and_user_assigned_ones_are_separate()
    {
        using var fixture = new IdentityFixture();
        var tenant = fixture.Provider.CreateTenant("Contoso");
        var system = fixture.Provider.EnsureSystemAssignedIdentity(tenant.TenantId, DiskEncryptionSet);
        var user = fixture.Provider.EnsureUserAssignedIdentity(tenant.TenantId, UserAssigned);
        Assert.Equal(user, fixture.Provider.FindManagedIdentity(UserAssigned.ToUpperInvariant(), PrincipalKind.UserAssigned));

        Assert.True(fixture.Provider.DeleteManagedIdentity(DiskEncryptionSet, PrincipalKind.SystemAssigned));
        Assert.False(fixture.Provider.DeleteManagedIdentity(DiskEncryptionSet, PrincipalKind.SystemAssigned));
        Assert.Null(fixture.Provider.FindPrincipal(system.ObjectId));
        Assert.NotNull(fixture.Provider.FindPrincipal(user.ObjectId));

        // A new system-assigned identity for a re-created resource is a new principal.
        var again = fixture.Provider.EnsureSystemAssignedIdentity(tenant.TenantId, DiskEncryptionSet);
        Assert.NotEqual(system.ObjectId, again.ObjectId);
    }
}
