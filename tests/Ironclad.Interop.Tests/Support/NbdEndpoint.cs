// Where a client finds one export, and with which TLS credentials, written in each client's own
// syntax: libnbd URIs (nbd:// and nbds://...?tls-certificates=DIR) and qemu's options
// (`--object tls-creds-x509,...,dir=DIR` + `--image-opts driver=nbd,...,tls-creds=tls0`).
// Invariant: a TLS endpoint is never reached through a plain URI by accident: the TLS directory
// decides the syntax, and the plain forms are only produced when it is null.
using System.Globalization;

namespace Ironclad.Interop.Tests.Support;

/// <param name="TlsCredentialsDirectory">
/// Directory in the layout qemu's tls-creds-x509 (endpoint=client) and libnbd's tls-certificates=
/// read: ca-cert.pem, and for mutual TLS client-cert.pem and client-key.pem. Null for plain NBD.
/// </param>
internal sealed record NbdEndpoint(string Host, int Port, string ExportName, string? TlsCredentialsDirectory = null)
{
    /// <summary>The id of the qemu tls-creds object the image options refer to.</summary>
    public const string QemuTlsObjectId = "tls0";

    public bool IsTls => TlsCredentialsDirectory is not null;

    /// <summary>From `serve-scratch`'s ready line (nbd:// or nbds://); <paramref name="tlsCredentialsDirectory"/> is needed for nbds://.</summary>
    public static NbdEndpoint FromUri(Uri uri, string? tlsCredentialsDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var secure = uri.Scheme == "nbds";
        if (secure != (tlsCredentialsDirectory is not null))
        {
            throw new ArgumentException($"{uri} {(secure ? "needs" : "takes no")} TLS credentials.", nameof(tlsCredentialsDirectory));
        }

        return new NbdEndpoint(uri.Host, uri.Port, uri.AbsolutePath.TrimStart('/'), tlsCredentialsDirectory);
    }

    /// <summary>The same export reached with other credentials (or, with null, as plain NBD).</summary>
    public NbdEndpoint WithTls(string? tlsCredentialsDirectory) => this with { TlsCredentialsDirectory = tlsCredentialsDirectory };

    /// <summary>The same server, another export.</summary>
    public NbdEndpoint WithExport(string exportName) => this with { ExportName = exportName };

    /// <summary>nbd://127.0.0.1:PORT/EXPORT, or nbds://...?tls-certificates=DIR: what nbdinfo, nbdcopy and nbdsh -u take.</summary>
    public string LibnbdUri => TlsCredentialsDirectory is null
        ? string.Create(CultureInfo.InvariantCulture, $"nbd://{Host}:{Port}/{ExportName}")
        : string.Create(CultureInfo.InvariantCulture, $"nbds://{Host}:{Port}/{ExportName}?tls-certificates={Uri.EscapeDataString(TlsCredentialsDirectory)}");

    /// <summary>`--object tls-creds-x509,...` for qemu-img and qemu-io, or nothing for plain NBD.</summary>
    public IReadOnlyList<string> QemuObjectArguments => TlsCredentialsDirectory is null
        ? []
        : ["--object", $"tls-creds-x509,id={QemuTlsObjectId},endpoint=client,dir={QemuOptionValue(TlsCredentialsDirectory)}"];

    /// <summary>
    /// How qemu-img and qemu-io name the image: `-f raw nbd://...` for plain NBD,
    /// `--image-opts driver=nbd,...,tls-creds=tls0` with TLS (qemu's nbd:// URI has no way to name credentials).
    /// </summary>
    public IReadOnlyList<string> QemuImageArguments => TlsCredentialsDirectory is null
        ? ["-f", "raw", string.Create(CultureInfo.InvariantCulture, $"nbd://{Host}:{Port}/{ExportName}")]
        : ["--image-opts", QemuImageOptions];

    /// <summary>The image as the output of `qemu-img convert -n`.</summary>
    public IReadOnlyList<string> QemuConvertTargetArguments => TlsCredentialsDirectory is null
        ? ["-O", "raw", string.Create(CultureInfo.InvariantCulture, $"nbd://{Host}:{Port}/{ExportName}")]
        : ["--target-image-opts", QemuImageOptions];

    private string QemuImageOptions => string.Create(
        CultureInfo.InvariantCulture,
        $"driver=nbd,host={Host},port={Port},export={QemuOptionValue(ExportName)},tls-creds={QemuTlsObjectId}");

    public override string ToString() => LibnbdUri;

    // qemu's option syntax doubles a comma to put one in a value.
    private static string QemuOptionValue(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}
