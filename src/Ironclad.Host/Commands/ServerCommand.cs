// `ironclad server`: runs every role in one process on one data directory. This file only turns
// the command line into ServerSettings; validation errors surface as parse errors (exit 2) so a
// malformed port or address, or plain NBD on a non-loopback address, never reaches the server.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ironclad.Host.Logging;
using Ironclad.Host.Server;

namespace Ironclad.Host.Commands;

internal sealed class ServerCommand : Command
{
    public ServerCommand()
        : base("server", "Run the Ironclad server (HTTPS control plane and NBD) on a data directory.")
    {
        Options.Add(DataOption);
        Options.Add(PortOption);
        Options.Add(BindOption);
        Options.Add(NbdPortOption);
        Options.Add(NbdTlsOption);
        Options.Add(LogFormatOption);
        Validators.Add(RefusePlainNbdOffLoopback);
        SetAction((parseResult, cancellationToken) =>
            ServerRunner.RunAsync(ToSettings(parseResult), parseResult.InvocationConfiguration.Error, cancellationToken));
    }

    public Option<string> DataOption { get; } = new("--data")
    {
        Description = "Data directory: TLS material, endpoints.json, lock file (created with mode 0700).",
        HelpName = "DIR",
        DefaultValueFactory = _ => ServerSettings.DefaultDataDirectory,
    };

    public Option<int> PortOption { get; } = new("--port")
    {
        Description = "HTTPS port; 0 lets the OS choose (endpoints.json then has the real one).",
        HelpName = "PORT",
        DefaultValueFactory = _ => ServerSettings.DefaultPort,
        CustomParser = ParsePort,
    };

    public Option<int> NbdPortOption { get; } = new("--nbd-port")
    {
        Description = "NBD port; 0 lets the OS choose (endpoints.json then has the real one).",
        HelpName = "PORT",
        DefaultValueFactory = _ => ServerSettings.DefaultNbdPort,
        CustomParser = ParsePort,
    };

    public Option<NbdTls> NbdTlsOption { get; } = new("--nbd-tls")
    {
        HelpName = "required|mutual|off",
        Description = "NBD transport security: required (TLS), mutual (TLS and a client certificate from the local CA) "
            + "or off (plain NBD, only with a loopback --bind).",
        DefaultValueFactory = _ => NbdTls.Required,
    };

    public Option<IPAddress> BindOption { get; } = new("--bind")
    {
        Description = "IP address to listen on: an IP literal such as 127.0.0.1, ::1 or 0.0.0.0.",
        HelpName = "ADDRESS",
        DefaultValueFactory = _ => ServerSettings.DefaultBindAddress,
        CustomParser = ParseBindAddress,
    };

    public Option<LogFormat> LogFormatOption { get; } = new("--log-format")
    {
        Description = "Format of the log lines on stdout (one line per event).",
        DefaultValueFactory = _ => LogFormat.Text,
    };

    public ServerSettings ToSettings(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var data = parseResult.GetValue(DataOption);
        return new ServerSettings(
            Path.GetFullPath(string.IsNullOrEmpty(data) ? ServerSettings.DefaultDataDirectory : data),
            parseResult.GetValue(PortOption),
            parseResult.GetValue(BindOption) ?? ServerSettings.DefaultBindAddress,
            parseResult.GetValue(LogFormatOption),
            parseResult.GetValue(NbdPortOption),
            parseResult.GetValue(NbdTlsOption));
    }

    /// <summary>Parses a TCP port in 0..65535 (0 = let the OS choose); the error names the option.</summary>
    internal static int ParsePort(ArgumentResult result)
    {
        var option = (result.Parent as OptionResult)?.Option.Name ?? "--port";
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            result.AddError($"Cannot parse '{text}' as a port for option '{option}': use a number in 0..{IPEndPoint.MaxPort}.");
        }
        else if (port > IPEndPoint.MaxPort)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture,
                $"Port {port} is out of range for option '{option}': use 0..{IPEndPoint.MaxPort} (0 lets the OS choose)."));
        }

        return port;
    }

    // Plain NBD has no authentication and no confidentiality: only a process on this machine may
    // reach it. Refused here, before anything is created, rather than by the listener at start.
    private void RefusePlainNbdOffLoopback(CommandResult result)
    {
        NbdTls tls;
        IPAddress bind;
        try
        {
            tls = result.GetValue(NbdTlsOption);
            bind = result.GetValue(BindOption) ?? ServerSettings.DefaultBindAddress;
        }
        catch (InvalidOperationException)
        {
            // One of the two values is malformed and already reported as its own parse error.
            return;
        }

        if (!tls.IsAllowedOn(bind))
        {
            result.AddError($"Option '--nbd-tls off' serves plain NBD and needs a loopback --bind address (127.0.0.1 or ::1), not {bind}.");
        }
    }

    // Only IP literals, written out in full: a host name would need resolving and the certificate
    // names the address as an IP SAN; IPAddress.TryParse alone would also take "1" as 0.0.0.1.
    private static IPAddress? ParseBindAddress(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (IPAddress.TryParse(text, out var address) && !text.Contains('%', StringComparison.Ordinal)
            && (address.AddressFamily == AddressFamily.InterNetworkV6 || text.Count(c => c == '.') == 3))
        {
            return address;
        }

        result.AddError($"Cannot parse '{text}' as a bind address for option '--bind': use an IP literal such as 127.0.0.1, ::1 or 0.0.0.0.");
        return null;
    }
}
