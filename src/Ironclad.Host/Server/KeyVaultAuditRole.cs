// Wires the Key Vault audit log (DIR/keyvault/audit.log, its head anchored in metadata.db) and the
// bridge that turns access changes (access policy entries and role assignments removed, vaults deleted)
// into key events on the KeyEventHub. Invariants: one FileAuditLog per process, disposed (final fsync)
// when the host stops; the bridge subscribes when the host starts, before any request is served.
using Ironclad.Host.Data;
using Ironclad.KeyVault.Audit;
using Ironclad.KeyVault.Events;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Rbac;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class KeyVaultAuditRole
{
    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);

        services.AddSingleton(provider => new FileAuditLog(
            dataDirectory.KeyVaultDirectory, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton<IKeyVaultAudit>(provider => provider.GetRequiredService<FileAuditLog>());

        // KeyVaultRole registers the hub (as IKeyEvents and IKeyEventSink) when the data plane is wired;
        // these only fill in what is missing, so there is one hub either way.
        services.TryAddSingleton(provider =>
        {
            var hub = new KeyEventHub();
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.KeyVault.Events");
            hub.SubscriberFailed += e => LogSubscriberFailed(logger, e);
            return hub;
        });
        services.TryAddSingleton<IKeyEvents>(provider => provider.GetRequiredService<KeyEventHub>());
        services.TryAddSingleton<IKeyEventSink>(provider => provider.GetRequiredService<KeyEventHub>());
        services.AddSingleton(provider =>
        {
            var assignments = provider.GetRequiredService<RoleAssignmentService>();
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.ResourceManager.RoleAssignments");
            assignments.SubscriberFailed += e => LogSubscriberFailed(logger, e);
            return new AccessChangeBridge(provider.GetRequiredService<IVaultEvents>(), assignments,
                provider.GetRequiredService<IVaultDirectory>(), provider.GetRequiredService<KeyEventHub>(), provider.GetRequiredService<TimeProvider>());
        });
        services.AddHostedService(provider => new Starter(provider.GetRequiredService<FileAuditLog>(), provider.GetRequiredService<AccessChangeBridge>()));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A key event subscriber failed.")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception);

    /// <summary>
    /// Opens the audit log at start (a damaged tail stops the server now, not at the first vault call);
    /// creating the bridge subscribes it. The container disposes both at shutdown (final fsync, unsubscribe).
    /// </summary>
    private sealed class Starter(FileAuditLog audit, AccessChangeBridge bridge) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = audit;
            _ = bridge;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
