// `ironclad dev serve-scratch`: one throw-away encrypted volume served over NBD on 127.0.0.1, for
// benchmarks and manual tests. Invariants: the data key is generated in memory and never written
// anywhere, so the volume is unreadable once the process ends and is deleted at exit (or, after
// a kill, by the next run on the same directory); plain NBD is served on loopback only.
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Ironclad.Crypto.Keys;
using Ironclad.Host.Data;
using Ironclad.Host.Exports;
using Ironclad.Host.Logging;
using Ironclad.Host.Server;
using Ironclad.Host.Tls;
using Ironclad.Storage;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Dev;

internal enum ScratchCipher
{
    /// <summary>XTS-AES-256 under a random key: what the server does.</summary>
    Xts,

    /// <summary>No encryption at all; only to measure what encryption costs.</summary>
    None,
}

/// <param name="DataDirectory">Absolute path, or null for a fresh temporary directory removed at exit.</param>
/// <param name="QueueDepthMax">Requests in flight per NBD connection, or null for the server's default.</param>
internal sealed record ScratchSettings(
    long SizeBytes, int NbdPort, ScratchCipher Cipher, string? DataDirectory, NbdTls Tls, int? QueueDepthMax);

internal static class ScratchServer
{
    public const string ExportName = "scratch";

    /// <summary>DIR/scratch-volume: the id of the scratch volume a run created, until it deletes it.</summary>
    public const string MarkerFileName = "scratch-volume";

    public static async Task<int> RunAsync(ScratchSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // No generic host here: SIGINT/SIGTERM are handled directly, and cancelling them keeps the
        // runtime from exiting before the volume is deleted and the store is closed.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
        using var loggerFactory = HostLogging.CreateFactory(LogFormat.Text);
        var logger = loggerFactory.CreateLogger("Ironclad.Host.Dev");
        try
        {
            await ServeAsync(settings, output, error, loggerFactory, logger, stop.Token);
            return ExitCodes.Success;
        }
        catch (StartupException e)
        {
            HostLog.ServerStartFailed(logger, e.Message);
            await error.WriteLineAsync($"ironclad: error: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            HostLog.ServerFailed(logger, e);
            await error.WriteLineAsync($"ironclad: error: unexpected failure ({e.GetType().Name}); the log has the details");
            return ExitCodes.Failure;
        }

        void RequestStop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static async Task ServeAsync(
        ScratchSettings settings, TextWriter output, TextWriter error, ILoggerFactory loggerFactory, ILogger logger, CancellationToken stopToken)
    {
        var temporary = settings.DataDirectory is null ? Directory.CreateTempSubdirectory("ironclad-scratch-").FullName : null;
        try
        {
            using var dataDirectory = DataDirectory.Open(settings.DataDirectory ?? temporary!);
            using var tls = settings.Tls == NbdTls.Off
                ? null
                : TlsMaterial.Prepare(dataDirectory.TlsDirectory, IPAddress.Loopback, TimeProvider.System, logger);
            using var store = ServerRunner.OpenVolumeStore(dataDirectory, logger);
            var markerPath = Path.Combine(dataDirectory.FullPath, MarkerFileName);
            DeleteLeftover(store, markerPath, logger);

            var volumeId = Guid.NewGuid();
            // Recorded before the volume exists, so a run killed at any point leaves its id behind.
            AtomicFile.WriteOwnerOnly(markerPath, Encoding.ASCII.GetBytes(volumeId.ToString("D") + "\n"));
            using var key = DataKey.Generate();
            store.CreateVolume(volumeId, settings.SizeBytes, key);
            var cipherName = settings.Cipher == ScratchCipher.None ? "none" : "xts-aes-256";
            HostLog.ScratchVolumeCreated(logger, volumeId, settings.SizeBytes, cipherName, store.DirectoryPath);
            try
            {
                if (settings.Cipher == ScratchCipher.None)
                {
                    HostLog.NullCipherInUse(logger, volumeId);
                    await error.WriteLineAsync(
                        "ironclad: WARNING: --cipher none: the scratch volume is stored UNENCRYPTED. This mode exists only to measure what encryption costs; never put real data on it.");
                }

                Func<Volume> openVolume = settings.Cipher == ScratchCipher.None
                    ? () => store.OpenVolumeWithCipher(volumeId, NullCipher.Instance)
                    : () => store.OpenVolume(volumeId, key);
                using var registry = new ExportRegistry(loggerFactory.CreateLogger("Ironclad.Host.Exports"));
                registry.Add(ExportRegistration.ForVolume(
                    ExportName, "Ironclad scratch volume (random key, deleted at exit)", store, volumeId, openVolume));

                var options = NbdListener.CreateOptions(
                    new IPEndPoint(IPAddress.Loopback, settings.NbdPort), settings.Tls, tls?.ServerCertificate, tls?.CaCertificate, settings.QueueDepthMax);
                await using (var listener = new NbdListener(options, registry, loggerFactory))
                {
                    await listener.StartAsync(stopToken);
                    var scheme = settings.Tls == NbdTls.Off ? "nbd" : "nbds";
                    var port = listener.LocalEndPoint.Port;
                    var trust = tls is null ? string.Empty : $" (CA {tls.CaCertificatePath})";
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"serving {scheme}://127.0.0.1:{port}/{ExportName}{trust}"));
                    await output.FlushAsync(CancellationToken.None);
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stopToken);
                    }
                    catch (OperationCanceledException)
                    {
                        HostLog.ServerStopping(logger);
                    }
                }

                // Connections are closed; close any handle the listener did not.
                registry.Dispose();
            }
            finally
            {
                DeleteScratch(store, volumeId, markerPath, logger);
            }
        }
        finally
        {
            if (temporary is not null)
            {
                DeleteTemporaryDirectory(temporary, logger);
            }
        }

        HostLog.ServerStopped(logger);
    }

    /// <summary>A run that was killed left its volume: unreadable now (its key is gone), so delete it.</summary>
    private static void DeleteLeftover(VolumeStore store, string markerPath, ILogger logger)
    {
        if (!File.Exists(markerPath))
        {
            return;
        }

        if (Guid.TryParse(File.ReadAllText(markerPath).Trim(), out var leftover) && store.Find(leftover) is not null)
        {
            store.Delete(leftover);
            HostLog.ScratchLeftoverDeleted(logger, leftover);
        }

        File.Delete(markerPath);
    }

    private static void DeleteScratch(VolumeStore store, Guid volumeId, string markerPath, ILogger logger)
    {
        try
        {
            if (store.Find(volumeId) is not null)
            {
                store.Delete(volumeId);
                HostLog.ScratchVolumeDeleted(logger, volumeId);
            }

            File.Delete(markerPath);
        }
        catch (StorageException e)
        {
            // The marker stays: the next run on this directory deletes the volume.
            HostLog.ScratchVolumeNotDeleted(logger, volumeId, e.Error.ToString());
        }
    }

    private static void DeleteTemporaryDirectory(string path, ILogger logger)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            HostLog.ScratchDirectoryNotDeleted(logger, path, e.Message);
        }
    }
}
