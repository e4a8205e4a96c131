// Wires Microsoft.Compute into `ironclad server`: the one provider (ComputeProvider) over its resource
// types, and the services behind them, one file per area — ComputeRole.Keys.cs (vault client, data
// keys, platform keys), ComputeRole.EncryptionSets.cs (sets, rotation), ComputeRole.Disks.cs (disks,
// snapshots, images), ComputeRole.Access.cs (sessions, SAS grants, revocation and its signal bridge), ComputeRole.Marketplace.cs,
// ComputeRole.VirtualMachines.cs, ComputeRole.VmRuntime.cs (NBD exports of running VMs), ComputeRole.ScaleSets.cs.
using Ironclad.Compute;
using Ironclad.Compute.Revocation;
using Ironclad.Host.Data;
using Ironclad.ResourceManager.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        services.AddSingleton(provider =>
        {
            var hub = new KeyAccessSignals();
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.Signals");
            hub.SubscriberFailed += e => LogSignalSubscriberFailed(logger, e);
            return hub;
        });

        AddKeys(services, settings, dataDirectory);
        AddEncryptionSets(services, settings);
        AddDisks(services, settings);
        AddAccess(services, settings);
        AddMarketplace(services, settings);
        AddVirtualMachines(services, settings);
        AddVmRuntime(services, settings);
        AddScaleSets(services, settings);

        services.AddSingleton(provider => new ComputeProvider(provider.GetServices<IComputeResourceType>()));
        services.AddSingleton<IResourceProvider>(provider => provider.GetRequiredService<ComputeProvider>());
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Error, Message = "A key-access signal subscriber failed")]
    private static partial void LogSignalSubscriberFailed(ILogger logger, Exception exception);
}
