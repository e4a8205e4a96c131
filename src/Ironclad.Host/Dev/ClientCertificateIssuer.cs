// Runs `ironclad dev issue-client-cert`: loads the data directory's existing local CA (never
// creates one: that is the server's first start), issues a client certificate and writes the
// qemu/libnbd layout. It takes no lock, so it works while a server runs on the directory.
// Expected failures (no CA, files already there) are one sentence on stderr and exit 1.
using System.Globalization;
using Ironclad.Host.Data;
using Ironclad.Host.Server;
using Ironclad.Host.Tls;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ironclad.Host.Dev;

/// <param name="DataDirectory">Absolute path of the data directory holding tls/ca.pem and tls/ca-key.pem.</param>
/// <param name="OutputDirectory">Absolute path where the three PEM files go.</param>
internal sealed record ClientCertificateSettings(string DataDirectory, string Name, string OutputDirectory, bool Force);

internal static class ClientCertificateIssuer
{
    public static async Task<int> RunAsync(ClientCertificateSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var message = Issue(settings, TimeProvider.System);
            await output.WriteLineAsync(message.AsMemory(), cancellationToken);
            return ExitCodes.Success;
        }
        catch (StartupException e)
        {
            await error.WriteLineAsync($"ironclad: error: {e.Message}".AsMemory(), cancellationToken);
            return ExitCodes.Failure;
        }
    }

    /// <summary>Issues and writes the certificate; returns the line to print. Throws StartupException for expected failures.</summary>
    public static string Issue(ClientCertificateSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        if (!Directory.Exists(settings.DataDirectory))
        {
            throw new StartupException($"data directory '{settings.DataDirectory}' does not exist");
        }

        if (!settings.Force && ClientCertificate.ExistingFiles(settings.OutputDirectory) is [var existing, ..])
        {
            throw new StartupException($"'{existing}' already exists; use --force to replace it, or choose another --out");
        }

        var tlsDirectory = Path.Combine(settings.DataDirectory, DataDirectory.TlsDirectoryName);
        using var authority = LocalCertificateAuthority.Load(tlsDirectory, time, NullLogger.Instance);
        using var certificate = ClientCertificate.Issue(authority.Certificate, settings.Name, time.GetUtcNow());
        try
        {
            UnixFileModes.CreateOwnerOnlyDirectory(settings.OutputDirectory);
            ClientCertificate.Write(settings.OutputDirectory, authority.Certificate, certificate);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot write the client certificate into '{settings.OutputDirectory}': {e.Message}", e);
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"issued client certificate {certificate.Subject} (thumbprint {certificate.Thumbprint}, valid until {certificate.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}) in {settings.OutputDirectory}");
    }
}
