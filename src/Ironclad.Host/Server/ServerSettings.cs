// What `ironclad server` was asked to do, after parsing and validation: an absolute data directory,
// a port in 0..65535 (0 = let the OS choose) and a parsed bind address.
using System.Net;
using Ironclad.Host.Logging;

namespace Ironclad.Host.Server;

internal sealed record ServerSettings(string DataDirectory, int Port, IPAddress BindAddress, LogFormat LogFormat)
{
    public const int DefaultPort = 8443;
    public const string DefaultDataDirectory = "./.ironclad";
    public static readonly IPAddress DefaultBindAddress = IPAddress.Loopback;
}
