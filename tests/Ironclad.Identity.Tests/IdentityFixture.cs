// A real identity provider for one test: SQLite metadata database and root key file in a temp
// directory, a FakeTimeProvider for the clock. Reopen() builds a second provider on the same files,
// as a server restart would.
using Ironclad.Crypto.Sealing;
using Ironclad.Identity.Signing;
using Ironclad.Identity.Store;
using Ironclad.Metadata;
using Ironclad.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Ironclad.Identity.Tests;

internal sealed class IdentityFixture : IDisposable
{
    public const string Authority = "https://127.0.0.1:8443";

    private readonly TempDirectory _directory = new("ironclad-identity-tests");
    private readonly List<IDisposable> _owned = [];

    public IdentityFixture(TimeSpan? tokenLifetime = null, TimeSpan? clockSkew = null)
    {
        Options = new IdentityOptions
        {
            AuthorityHost = Authority,
            TokenLifetime = tokenLifetime ?? TimeSpan.FromHours(1),
            ClockSkew = clockSkew ?? TimeSpan.FromMinutes(5),
        };
        Provider = Reopen();
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));

    public IdentityOptions Options { get; }

    public IdentityProvider Provider { get; private set; }

    public string DatabasePath => _directory.Combine("metadata.db");

    public string RootKeyPath => _directory.Combine("keys", "identity-root.key");

    public IdentityProvider Reopen()
    {
        var sealer = SealingKeyFile.LoadOrCreate(RootKeyPath);
        var store = new SqliteIdentityStore(MetadataDatabase.Open(DatabasePath));
        var keys = new SigningKeys(store, sealer, Options, Time);
        _owned.Add(sealer);
        _owned.Add(keys);
        Provider = new IdentityProvider(store, keys, Options, Time);
        return Provider;
    }

    /// <summary>A tenant and an application with one secret.</summary>
    public (Tenant Tenant, ServicePrincipal Principal, string Secret) CreateApplication()
    {
        var tenant = Provider.CreateTenant("Contoso");
        var principal = Provider.CreateServicePrincipal(tenant.TenantId, "app");
        var (_, secret) = Provider.AddSecret(principal.ObjectId);
        return (tenant, principal, secret);
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }
}
