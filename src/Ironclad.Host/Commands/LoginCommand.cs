// `ironclad login`: signs in with client credentials — taken from a server's endpoints.json
// (--data DIR or --endpoints FILE; the bootstrap administrator) or given explicitly (--tenant,
// --client-id, --client-secret, --authority, --ca-cert) — fetches a management token to prove them,
// and saves the profile (0600) the other client commands use.
using System.CommandLine;
using System.Text.Json;
using Ironclad.Host.Cli;
using Ironclad.Host.Server;

namespace Ironclad.Host.Commands;

internal sealed class LoginCommand : Command
{
    private readonly Option<string> _data = new("--data") { Description = "A server's data directory: read DIR/endpoints.json (default ./.ironclad).", HelpName = "DIR" };
    private readonly Option<string> _endpoints = new("--endpoints") { Description = "Read this endpoints.json instead.", HelpName = "FILE" };
    private readonly Option<string> _tenant = new("--tenant") { Description = "Tenant id (explicit credentials).", HelpName = "TENANT" };
    private readonly Option<string> _clientId = new("--client-id") { Description = "Client (application) id.", HelpName = "ID" };
    private readonly Option<string> _clientSecret = new("--client-secret") { Description = "Client secret.", HelpName = "SECRET" };
    private readonly Option<string> _authority = new("--authority") { Description = "Authority host and server URL, e.g. https://127.0.0.1:8443.", HelpName = "URL" };
    private readonly Option<string> _caCertificate = new("--ca-cert") { Description = "PEM file of the CA to trust (the server's DIR/tls/ca.pem).", HelpName = "FILE" };
    private readonly Option<string> _subscription = new("--subscription") { Description = "Default subscription id.", HelpName = "ID" };
    private readonly Option<string> _profile = CliOptions.Profile();
    private readonly Option<OutputFormat> _output = CliOptions.Output();

    public LoginCommand()
        : base("login", "Sign in with client credentials (from endpoints.json or explicit) and save the profile.")
    {
        Options.Add(_data);
        Options.Add(_endpoints);
        Options.Add(_tenant);
        Options.Add(_clientId);
        Options.Add(_clientSecret);
        Options.Add(_authority);
        Options.Add(_caCertificate);
        Options.Add(_subscription);
        Options.Add(_profile);
        Options.Add(_output);
        SetAction((parseResult, cancellationToken) => CliOptions.RunAsync(parseResult.InvocationConfiguration.Error,
            () => RunAsync(parseResult, parseResult.InvocationConfiguration.Output, cancellationToken)));
    }

    private async Task<int> RunAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var explicitCredentials = parseResult.GetValue(_clientId) is not null || parseResult.GetValue(_tenant) is not null;
        CliProfile profile;
        if (explicitCredentials)
        {
            var authority = parseResult.GetValue(_authority) ?? throw new CliException("--authority is required with explicit credentials", ExitCodes.Usage);
            profile = new CliProfile(authority.TrimEnd('/'), authority.TrimEnd('/'),
                parseResult.GetValue(_tenant) ?? throw new CliException("--tenant is required with explicit credentials", ExitCodes.Usage),
                parseResult.GetValue(_subscription),
                parseResult.GetValue(_clientId) ?? throw new CliException("--client-id is required with explicit credentials", ExitCodes.Usage),
                parseResult.GetValue(_clientSecret) ?? throw new CliException("--client-secret is required with explicit credentials", ExitCodes.Usage),
                parseResult.GetValue(_caCertificate) is { } ca ? Path.GetFullPath(ca) : null, null, null);
        }
        else
        {
            var path = parseResult.GetValue(_endpoints)
                ?? Path.Combine(parseResult.GetValue(_data) ?? ServerSettings.DefaultDataDirectory, Data.DataDirectory.EndpointsFileName);
            if (!File.Exists(path))
            {
                throw new CliException($"'{Path.GetFullPath(path)}' does not exist: is the server running? (or pass --tenant/--client-id/--client-secret/--authority)");
            }

            var document = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(path, cancellationToken), CliJsonContext.Default.EndpointsDocument)
                ?? throw new CliException($"'{path}' is empty");
            if (document.Url is null || document.TenantId is null || document.ClientId is null || document.ClientSecret is null)
            {
                throw new CliException($"'{path}' has no bootstrap credentials (url, tenantId, clientId, clientSecret)");
            }

            profile = new CliProfile(document.Url, document.AuthorityHost ?? document.Url, document.TenantId,
                parseResult.GetValue(_subscription) ?? document.SubscriptionId, document.ClientId, document.ClientSecret,
                parseResult.GetValue(_caCertificate) ?? document.CaCertificate, null, null);
        }

        using var http = CliSession.CreateHttpClient(profile.Url, profile.CaCertificate);
        var (token, expiresOn) = await CliSession.AcquireTokenAsync(http, profile.AuthorityHost, profile.TenantId, profile.ClientId, profile.ClientSecret, cancellationToken);
        profile = profile with { AccessToken = token, ExpiresOn = expiresOn };
        var directory = CliProfile.ResolveDirectory(parseResult.GetValue(_profile));
        profile.Save(directory);

        using var summary = JsonDocument.Parse(JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["url"] = profile.Url,
            ["tenantId"] = profile.TenantId,
            ["subscriptionId"] = profile.SubscriptionId,
            ["clientId"] = profile.ClientId,
            ["profile"] = Path.Combine(directory, CliProfile.FileName),
        }, CliJsonContext.Default.Options.GetTypeInfo(typeof(Dictionary<string, string?>))));
        await CliOptions.WriteAsync(output, summary.RootElement, parseResult.GetValue(_output), "url", "tenantId", "subscriptionId", "clientId");
        return ExitCodes.Success;
    }
}
