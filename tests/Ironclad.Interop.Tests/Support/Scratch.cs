// `ironclad dev serve-scratch` as the interop tests use it: always with --data (the plaintext scan
// reads the store, TLS tests need DIR/tls/ca.pem) and the TLS mode spelled out.
using Ironclad.Testing.Processes;

namespace Ironclad.Interop.Tests.Support;

internal static class Scratch
{
    /// <summary>serve-scratch's smallest volume (--size-gb is a whole number of GiB); sparse, so only what is written takes space.</summary>
    public const long SizeBytes = 1L << 30;

    /// <summary>Starts serve-scratch on <paramref name="dataDirectory"/> (TLS off|required|mutual, cipher xts|none) and waits for its ready line.</summary>
    public static Task<IroncladScratch> StartAsync(string dataDirectory, string tls = "off", string cipher = "xts", CancellationToken cancellationToken = default) =>
        IroncladScratch.StartAsync(
            ["--size-gb", "1", "--data", dataDirectory, "--tls", tls, "--cipher", cipher], cancellationToken: cancellationToken);

    /// <summary>The volume store inside the data directory: what the plaintext scan reads.</summary>
    public static string VolumesDirectory(string dataDirectory) => Path.Combine(dataDirectory, "volumes");

    /// <summary>DIR/tls/ca.pem: the local CA the server certificate chains to.</summary>
    public static string CaCertificate(string dataDirectory) => Path.Combine(dataDirectory, "tls", "ca.pem");

    /// <summary>The scratch export, reached with <paramref name="tlsCredentialsDirectory"/> (null: plain NBD).</summary>
    public static NbdEndpoint Endpoint(IroncladScratch scratch, string? tlsCredentialsDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(scratch);
        return NbdEndpoint.FromUri(scratch.Uri, tlsCredentialsDirectory);
    }
}
