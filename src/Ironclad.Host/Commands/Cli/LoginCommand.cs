// `ironclad login`: checks a service principal's credentials against the server (a real token
// request) and saves them as the login profile (mode 0600). The credentials come from a running
// server's endpoints.json (`--data DIR`, the bootstrap administrator) or from explicit options.
// Nothing secret is printed: the output names the tenant, subscription and client id only.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using Ironclad.Host.Server;

namespace Ironclad.Host.Commands.Cli;

internal sealed class LoginCommand : Command
{
    private readonly Option<string?> _data = new("--data") { Description = "Data directory of a running server: use its endpoints.json (bootstrap administrator).", HelpName = "DIR" };
    private readonly Option<string?> _url = new("--url") { Description = "Resource Manager base URL, e.g. https://127.0.0.1:8443." };
    private readonly Option<string?> _authority = new("--authority") { Description = "Authority host (default: --url)." };
    private readonly Option<string?> _tenant = new("--tenant") { Description = "Tenant id." };
    private readonly Option<string?> _subscription = new("--subscription") { Description = "Subscription id." };
    private readonly Option<string?> _clientId = new("--client-id", "-u") { Description = "Service principal client (app) id." };
    private readonly Option<string?> _clientSecret = new("--client-secret", "-p") { Description = "Service principal client secret." };
    private readonly Option<string?> _caCertificate = new("--ca-cert") { Description = "PEM file of the CA the server's certificate chains to." };
    private readonly Option<string?> _profile = new("--profile") { Description = "Where to save the profile (default ~/.ironclad/profile.json, or IRONCLAD_PROFILE).", HelpName = "FILE" };

    public LoginCommand()
        : base("login", "Log in with a service principal (or a running server's bootstrap administrator) and save the profile.")
    {
        foreach (var option in new Option[] { _data, _url, _authority, _tenant, _subscription, _clientId, _clientSecret, _caCertificate, _profile })
        {
            Options.Add(option);
        }

        SetAction(RunAsync);
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var output = parseResult.InvocationConfiguration.Output;
        var error = parseResult.InvocationConfiguration.Error;
        try
        {
            var profile = ProfileFrom(parseResult);
            using (var connection = ArmConnection.Open(profile))
            {
                await connection.AuthenticateAsync(cancellationToken);
            }

            var path = parseResult.GetValue(_profile) is { Length: > 0 } explicitPath ? explicitPath : CliProfile.DefaultPath;
            profile.Save(path);
            var summary = new JsonObject
            {
                ["url"] = profile.Url,
                ["tenantId"] = profile.TenantId,
                ["subscriptionId"] = profile.SubscriptionId,
                ["clientId"] = profile.ClientId,
                ["profile"] = Path.GetFullPath(path),
            };
            CliOutput.Write(output, OutputFormat.Json, summary, []);
            return ExitCodes.Success;
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"ironclad: error: {e.Code}: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private CliProfile ProfileFrom(ParseResult parseResult)
    {
        var explicitOptions = new[] { _url, _authority, _tenant, _subscription, _clientId, _clientSecret, _caCertificate };
        var anyExplicit = explicitOptions.Any(o => !string.IsNullOrEmpty(parseResult.GetValue(o)));
        if (parseResult.GetValue(_data) is { Length: > 0 } data)
        {
            return anyExplicit
                ? throw new CliException("InvalidArgument", "Give either --data DIR or explicit credentials, not both.")
                : CliProfile.FromEndpointsFile(Path.Combine(Path.GetFullPath(data), "endpoints.json"));
        }

        if (!anyExplicit)
        {
            return CliProfile.FromEndpointsFile(Path.Combine(Path.GetFullPath(ServerSettings.DefaultDataDirectory), "endpoints.json"));
        }

        var url = parseResult.GetValue(_url) is { Length: > 0 } given ? given : parseResult.GetValue(_authority);
        var required = new[] { url, parseResult.GetValue(_tenant), parseResult.GetValue(_clientId), parseResult.GetValue(_clientSecret), parseResult.GetValue(_caCertificate) };
        if (required.Any(string.IsNullOrEmpty))
        {
            throw new CliException(
                "InvalidArgument", "Give --data DIR, or --tenant, --client-id, --client-secret, --ca-cert and --url (or --authority); --subscription is optional.");
        }

        return new CliProfile(
            url!,
            parseResult.GetValue(_authority) is { Length: > 0 } authority ? authority : url!,
            Path.GetFullPath(parseResult.GetValue(_caCertificate)!),
            parseResult.GetValue(_tenant)!,
            parseResult.GetValue(_subscription) is { Length: > 0 } subscription ? subscription : null,
            parseResult.GetValue(_clientId)!,
            parseResult.GetValue(_clientSecret)!);
    }
}
