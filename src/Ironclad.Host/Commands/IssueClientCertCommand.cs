// `ironclad dev issue-client-cert`: a client certificate for NBD mutual TLS, signed by a data
// directory's local CA, written where qemu (tls-creds-x509) and libnbd (tls-certificates=) look.
// The name is checked here (length, no control characters) so a bad one is a usage error.
using System.CommandLine;
using System.CommandLine.Parsing;
using Ironclad.Host.Dev;
using Ironclad.Host.Server;
using Ironclad.Host.Tls;

namespace Ironclad.Host.Commands;

internal sealed class IssueClientCertCommand : Command
{
    public IssueClientCertCommand()
        : base("issue-client-cert", "Issue an NBD client certificate (clientAuth, ECDSA P-256, 1 year) from a data directory's local CA.")
    {
        Options.Add(DataOption);
        Options.Add(NameOption);
        Options.Add(OutOption);
        Options.Add(ForceOption);
        SetAction((parseResult, cancellationToken) => ClientCertificateIssuer.RunAsync(
            ToSettings(parseResult), parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, cancellationToken));
    }

    public Option<string> DataOption { get; } = new("--data")
    {
        Description = "Data directory whose local CA (DIR/tls/ca.pem) signs the certificate.",
        HelpName = "DIR",
        DefaultValueFactory = _ => ServerSettings.DefaultDataDirectory,
    };

    public Option<string> NameOption { get; } = new("--name")
    {
        Description = $"Client name, the certificate's CN (1..{ClientCertificate.NameLengthMax} characters); the NBD server sees it as the client's subject.",
        HelpName = "NAME",
        Required = true,
        CustomParser = ParseName,
    };

    public Option<string> OutOption { get; } = new("--out")
    {
        Description = "Directory for ca-cert.pem, client-cert.pem and client-key.pem (created with mode 0700 if missing).",
        HelpName = "OUTDIR",
        Required = true,
    };

    public Option<bool> ForceOption { get; } = new("--force")
    {
        Description = "Replace files already in OUTDIR (by default an existing identity is never overwritten).",
    };

    public ClientCertificateSettings ToSettings(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var data = parseResult.GetValue(DataOption);
        return new ClientCertificateSettings(
            Path.GetFullPath(string.IsNullOrEmpty(data) ? ServerSettings.DefaultDataDirectory : data),
            parseResult.GetValue(NameOption)!,
            Path.GetFullPath(parseResult.GetValue(OutOption)!),
            parseResult.GetValue(ForceOption));
    }

    private static string ParseName(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (text.Trim().Length == 0 || text.Length > ClientCertificate.NameLengthMax || text.Any(char.IsControl))
        {
            result.AddError(
                $"Cannot use '{text}' for option '--name': use 1..{ClientCertificate.NameLengthMax} printable characters.");
        }

        return text;
    }
}
