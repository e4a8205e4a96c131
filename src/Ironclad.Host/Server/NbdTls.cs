// The `--nbd-tls` / `--tls` choice on the command line and what it means for the NBD listener.
// Invariant: plain NBD is only ever served on a loopback address (the command line refuses
// anything else with a usage error, and NbdServer refuses it again at Start).
using System.Net;
using Ironclad.Nbd.Server;

namespace Ironclad.Host.Server;

internal enum NbdTls
{
    /// <summary>TLS is mandatory (NBD FORCEDTLS); clients verify the server against the local CA.</summary>
    Required,

    /// <summary>TLS plus a client certificate that chains to the local CA (`ironclad dev issue-client-cert`).</summary>
    Mutual,

    /// <summary>Plain NBD: loopback addresses only.</summary>
    Off,
}

internal static class NbdTlsExtensions
{
    public static NbdTlsMode ToMode(this NbdTls option) => option switch
    {
        NbdTls.Required => NbdTlsMode.Required,
        NbdTls.Mutual => NbdTlsMode.RequiredWithClientCertificate,
        NbdTls.Off => NbdTlsMode.Off,
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, null),
    };

    /// <summary>The lower-case word used on the command line and in logs.</summary>
    public static string ToArgument(this NbdTls option) => option.ToString().ToLowerInvariant();

    /// <summary>Whether <paramref name="option"/> may be used on <paramref name="address"/>: plain NBD needs loopback.</summary>
    public static bool IsAllowedOn(this NbdTls option, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return option != NbdTls.Off || IPAddress.IsLoopback(address);
    }
}
