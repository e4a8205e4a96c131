// Wires the Resource Manager role (Ironclad.ResourceManager + ControlPlane/ResourceManager) into
// `ironclad server`: its store on the metadata database, RBAC, resource groups, the activity log,
// the provider registry (every IResourceProvider registered in DI) and the bootstrap hook.
using Ironclad.Host.Data;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.ActivityLog;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class ResourceManagerRole
{
    /// <summary>Overrides the ARM list page size (tests use small pages to exercise nextLink).</summary>
    public const string PageSizeVariable = "IRONCLAD_ARM_PAGE_SIZE";

    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = settings;
        _ = dataDirectory;
        services.AddSingleton(_ => new ResourceManagerOptions { PageSize = PageSize() });
        services.AddSingleton<IResourceManagerStore>(s => new SqliteResourceManagerStore(s.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton<RoleDefinitions>();
        services.AddSingleton<Authorizer>();
        services.AddSingleton<RoleAssignmentService>();
        services.AddSingleton(s => new ProviderRegistry(s.GetServices<IResourceProvider>()));
        services.AddSingleton<ResourceGroupService>();
        services.AddSingleton<ActivityLogService>();
        services.AddSingleton<IResourceManagerBootstrap, ResourceManagerBootstrap>();
    }

    private static int PageSize() =>
        int.TryParse(Environment.GetEnvironmentVariable(PageSizeVariable), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var size) && size >= 1
            ? size
            : ResourceManagerOptions.DefaultPageSize;
}
