// `ironclad dev serve-scratch`: turns the command line into ScratchSettings (see Dev/ScratchServer).
// Sizes, ports and queue depths are range-checked here so the run never starts with a bad one.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Ironclad.Host.Dev;
using Ironclad.Host.Server;

namespace Ironclad.Host.Commands;

internal sealed class ServeScratchCommand : Command
{
    /// <summary>The storage engine's largest volume, 32 TiB.</summary>
    public const int SizeGiBMax = 32 * 1024;

    public const int QueueDepthMax = 4096;

    public ServeScratchCommand()
        : base("serve-scratch", "Serve one throw-away volume (random in-memory key) as NBD export 'scratch' on 127.0.0.1 until SIGINT/SIGTERM.")
    {
        Options.Add(SizeOption);
        Options.Add(NbdPortOption);
        Options.Add(CipherOption);
        Options.Add(DataOption);
        Options.Add(TlsOption);
        Options.Add(QueueDepthOption);
        SetAction((parseResult, cancellationToken) => ScratchServer.RunAsync(
            ToSettings(parseResult), parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, cancellationToken));
    }

    public Option<int> SizeOption { get; } = new("--size-gb")
    {
        Description = $"Volume size in GiB, 1..{SizeGiBMax}. Sparse: only written data takes space.",
        HelpName = "N",
        Required = true,
        CustomParser = result => ParseInRange(result, 1, SizeGiBMax),
    };

    public Option<int> NbdPortOption { get; } = new("--nbd-port")
    {
        Description = "NBD port on 127.0.0.1; 0 lets the OS choose (the ready line has the real one).",
        HelpName = "PORT",
        Required = true,
        CustomParser = ServerCommand.ParsePort,
    };

    public Option<ScratchCipher> CipherOption { get; } = new("--cipher")
    {
        HelpName = "xts|none",
        Description = "xts: XTS-AES-256 as the server stores disks. none: NO encryption, only to measure what encryption costs.",
        DefaultValueFactory = _ => ScratchCipher.Xts,
    };

    public Option<string> DataOption { get; } = new("--data")
    {
        Description = "Directory for the volume store (and TLS files); default: a fresh temporary directory removed at exit.",
        HelpName = "DIR",
    };

    public Option<NbdTls> TlsOption { get; } = new("--tls")
    {
        HelpName = "off|required|mutual",
        Description = "off (plain NBD, the default: loopback only), required (TLS with DIR/tls's CA) or mutual (TLS and a client certificate).",
        DefaultValueFactory = _ => NbdTls.Off,
    };

    public Option<int?> QueueDepthOption { get; } = new("--queue-depth")
    {
        Description = $"Requests in flight per connection, 1..{QueueDepthMax} (default: the NBD server's).",
        HelpName = "N",
        CustomParser = result => ParseInRange(result, 1, QueueDepthMax),
    };

    public ScratchSettings ToSettings(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var data = parseResult.GetValue(DataOption);
        return new ScratchSettings(
            (long)parseResult.GetValue(SizeOption) << 30,
            parseResult.GetValue(NbdPortOption),
            parseResult.GetValue(CipherOption),
            string.IsNullOrEmpty(data) ? null : Path.GetFullPath(data),
            parseResult.GetValue(TlsOption),
            parseResult.GetValue(QueueDepthOption));
    }

    private static int ParseInRange(ArgumentResult result, int minimum, int maximum)
    {
        var option = (result.Parent as OptionResult)?.Option.Name ?? "value";
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < minimum || value > maximum)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture,
                $"Cannot use '{text}' for option '{option}': use a whole number in {minimum}..{maximum}."));
        }

        return value;
    }
}
