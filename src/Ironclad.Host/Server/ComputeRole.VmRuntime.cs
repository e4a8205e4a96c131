// Compute wiring, part VmRuntime: the VM runtime, its NBD exports, per-VM client certificates and start-up resume.
// Invariant: services here resolve their Compute collaborators on first use (Func<> / late lookup),
// so nothing new closes the DI cycle through Resource Manager described in ComputeRole.Disks.cs.
using Ironclad.Compute.Revocation;
using Ironclad.Compute.Sessions;
using Ironclad.Compute.VirtualMachines;
using Ironclad.Compute.VirtualMachines.Runtime;
using Ironclad.Host.Data;
using Ironclad.Host.Exports;
using Ironclad.Host.Tls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddVmRuntime(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);

        // Per-VM client certificates from the data directory's CA (loaded with its key at first use).
        services.AddSingleton<IVmNbdCredentialIssuer>(provider => new VmNbdCredentialIssuer(
            provider.GetRequiredService<DataDirectory>().TlsDirectory,
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Host.Tls")));

        // The NBD side over the server's export registry and listener (ServerComposition registers both).
        services.AddSingleton<IVmDiskExports>(provider => new VmDiskExports(
            provider.GetRequiredService<ExportRegistry>(), provider.GetRequiredService<NbdListener>(), settings.BindAddress, settings.NbdTls));

        if (!Registered<IDiskSessions>(services))
        {
            return;
        }

        services.AddSingleton(provider => new VmRuntime(
            provider.GetRequiredService<IDiskSessions>(),
            () => provider.GetRequiredService<IVmDiskExports>(),
            provider.GetService<RevocationMonitor>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<VmRuntime>()));
        services.AddSingleton<IVmRuntime>(provider => provider.GetRequiredService<VmRuntime>());

        // Registered after the NBD listener (ServerComposition), so it stops before it: every VM's
        // exports are closed and its sessions flushed and closed while the volume store is still open.
        services.AddHostedService(provider => new VmRuntimeHost(
            provider.GetRequiredService<VmRuntime>(),
            provider,
            provider.GetRequiredService<IHostApplicationLifetime>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.VmRuntime")));
    }

    [LoggerMessage(EventId = 6720, Level = LogLevel.Information, Message = "Resumed {Started} of {Recorded} VM(s) recorded as running")]
    private static partial void LogVmsResumed(ILogger logger, int started, int recorded);

    [LoggerMessage(EventId = 6721, Level = LogLevel.Error, Message = "Resuming the VMs recorded as running failed")]
    private static partial void LogVmResumeFailed(ILogger logger, Exception exception);

    /// <summary>
    /// Resumes the VMs recorded as running once the host has started (their disks unwrap through the vault
    /// data plane of this very process, over HTTPS), and stops every VM when the host stops.
    /// </summary>
    private sealed class VmRuntimeHost(VmRuntime runtime, IServiceProvider provider, IHostApplicationLifetime lifetime, ILogger logger)
        : IHostedService, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();
        private Task _resume = Task.CompletedTask;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() => _resume = Task.Run(ResumeAsync));
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await _stopping.CancelAsync();
            try
            {
                await _resume.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Shutting down mid-resume: what started is stopped below.
            }

            await runtime.StopAllAsync(CancellationToken.None);
        }

        public void Dispose() => _stopping.Dispose();

        private async Task ResumeAsync()
        {
            // The "vm" part implements IVmDirectory; resolved only now (late), never at composition.
            if (provider.GetService<IVmDirectory>() is not { } directory)
            {
                return;
            }

            try
            {
                var recorded = directory.ShouldBeRunning().Count;
                var started = await runtime.ResumeAsync(directory, _stopping.Token);
                LogVmsResumed(logger, started, recorded);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // The host is stopping.
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogVmResumeFailed(logger, e);
            }
        }
    }
}
