// What `ironclad server` was asked to do, after parsing and validation: an absolute data directory,
// HTTPS and NBD ports in 0..65535 (0 = let the OS choose), a parsed bind address and the NBD TLS
// mode (Off only with a loopback bind address).
using System.Net;
using Ironclad.Host.Logging;

namespace Ironclad.Host.Server;

internal sealed record ServerSettings(
    string DataDirectory,
    int Port,
    IPAddress BindAddress,
    LogFormat LogFormat,
    int NbdPort = ServerSettings.DefaultNbdPort,
    NbdTls NbdTls = NbdTls.Required)
{
    public const int DefaultPort = 8443;

    /// <summary>The port IANA assigned to NBD.</summary>
    public const int DefaultNbdPort = 10809;
    public const string DefaultDataDirectory = "./.ironclad";
    public static readonly IPAddress DefaultBindAddress = IPAddress.Loopback;
}
