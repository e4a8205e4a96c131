// A real SQLite metadata database in a temp directory with the Resource Manager services over it,
// one subscription created; what the unit tests share (no mocks of our own components).
using Ironclad.Metadata;
using Ironclad.ResourceManager.ActivityLog;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;
using Ironclad.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Ironclad.ResourceManager.Tests;

internal sealed class StoreFixture : IDisposable
{
    public static readonly Guid Tenant = Guid.Parse("00000000-0000-0000-0000-0000000000aa");
    public static readonly Guid Sub = Guid.Parse("00000000-0000-0000-0000-000000000001");
    public static readonly Guid Admin = Guid.Parse("00000000-0000-0000-0000-0000000000ad");

    private readonly TempDirectory _directory = new("ironclad-arm");

    public StoreFixture(params IResourceProvider[] providers)
    {
        Database = MetadataDatabase.Open(_directory.Combine("metadata.db"));
        Store = new SqliteResourceManagerStore(Database);
        Roles = new RoleDefinitions();
        Authorizer = new Authorizer(Store, Roles);
        Assignments = new RoleAssignmentService(Store, Roles, Time);
        Groups = new ResourceGroupService(Store, new ProviderRegistry(providers));
        Activity = new ActivityLogService(Store, Time);
        new ResourceManagerBootstrap(Store, Time).EnsureSubscription(Tenant, Sub, "Ironclad", Admin);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));

    public MetadataDatabase Database { get; }

    public SqliteResourceManagerStore Store { get; }

    public RoleDefinitions Roles { get; }

    public Authorizer Authorizer { get; }

    public RoleAssignmentService Assignments { get; }

    public ResourceGroupService Groups { get; }

    public ActivityLogService Activity { get; }

    /// <summary>A second store over the same file, as after a restart.</summary>
    public SqliteResourceManagerStore Reopen() => new(MetadataDatabase.Open(Database.Path));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }
}
