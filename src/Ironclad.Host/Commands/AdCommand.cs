// `ironclad ad sp list|show|create|delete|credential reset`: the directory's service principals
// over HTTPS (/{tenant}/ironclad/servicePrincipals, see docs/identity.md), as the logged-in profile.
// Only the tenant's directory administrator may use them; the service's refusal is shown as is.
using System.CommandLine;
using System.Text.Json;
using Ironclad.Host.Cli;

namespace Ironclad.Host.Commands;

internal sealed class AdCommand : Command
{
    public AdCommand()
        : base("ad", "Directory: service principals and their client secrets.")
    {
        var sp = new Command("sp", "Service principals.");
        sp.Subcommands.Add(List());
        sp.Subcommands.Add(Show());
        sp.Subcommands.Add(Create());
        sp.Subcommands.Add(Delete());
        var credential = new Command("credential", "Client secrets of a service principal.");
        credential.Subcommands.Add(Reset());
        sp.Subcommands.Add(credential);
        Subcommands.Add(sp);
    }

    private static readonly string[] Columns = ["displayName", "appId", "id", "servicePrincipalType"];

    private static Command List()
    {
        var command = new Command("list", "List the tenant's service principals (applications and managed identities).");
        var (profile, output) = Common(command);
        command.SetAction((parseResult, cancellationToken) => RunAsync(parseResult, profile, async session =>
        {
            var body = await session.SendAsync(HttpMethod.Get, Collection(session), null, cancellationToken);
            await CliOptions.WriteAsync(parseResult.InvocationConfiguration.Output, body.GetProperty("value"), parseResult.GetValue(output), Columns);
        }));
        return command;
    }

    private static Command Show()
    {
        var command = new Command("show", "Show one service principal (by app id or object id) and its secrets' metadata.");
        var id = IdOption();
        command.Options.Add(id);
        var (profile, output) = Common(command);
        command.SetAction((parseResult, cancellationToken) => RunAsync(parseResult, profile, async session =>
        {
            var body = await session.SendAsync(HttpMethod.Get, $"{Collection(session)}/{Uri.EscapeDataString(parseResult.GetValue(id)!)}", null, cancellationToken);
            await CliOptions.WriteAsync(parseResult.InvocationConfiguration.Output, body, parseResult.GetValue(output), Columns);
        }));
        return command;
    }

    private static Command Create()
    {
        var command = new Command("create", "Create a service principal with a client secret (shown once).");
        var name = new Option<string>("--display-name", "-n") { Description = "Display name.", HelpName = "NAME" };
        var years = new Option<int>("--years") { Description = "Secret lifetime in years (default 1).", DefaultValueFactory = _ => 1 };
        command.Options.Add(name);
        command.Options.Add(years);
        var (profile, output) = Common(command);
        command.SetAction((parseResult, cancellationToken) => RunAsync(parseResult, profile, async session =>
        {
            var request = JsonSerializer.SerializeToElement(new Dictionary<string, object?>
            {
                ["displayName"] = parseResult.GetValue(name),
                ["endDateTime"] = DateTimeOffset.UtcNow.AddYears(Math.Max(1, parseResult.GetValue(years))),
            }, CliJsonContext.Default.Options.GetTypeInfo(typeof(Dictionary<string, object?>)));
            var body = await session.SendAsync(HttpMethod.Post, Collection(session), request, cancellationToken);
            var result = AzLike(session, body.GetProperty("appId").GetString(), body.GetProperty("displayName").GetString(),
                body.GetProperty("passwordCredentials")[0].GetProperty("secretText").GetString());
            await CliOptions.WriteAsync(parseResult.InvocationConfiguration.Output, result, parseResult.GetValue(output), "appId", "displayName", "tenant");
        }));
        return command;
    }

    private static Command Delete()
    {
        var command = new Command("delete", "Delete a service principal (by app id or object id) and its secrets.");
        var id = IdOption();
        command.Options.Add(id);
        var (profile, _) = Common(command);
        command.SetAction((parseResult, cancellationToken) => RunAsync(parseResult, profile, async session =>
            await session.SendAsync(HttpMethod.Delete, $"{Collection(session)}/{Uri.EscapeDataString(parseResult.GetValue(id)!)}", null, cancellationToken)));
        return command;
    }

    private static Command Reset()
    {
        var command = new Command("reset", "Create a new client secret (shown once); without --append it replaces the others.");
        var id = IdOption();
        var append = new Option<bool>("--append") { Description = "Keep the existing secrets." };
        var years = new Option<int>("--years") { Description = "Secret lifetime in years (default 1).", DefaultValueFactory = _ => 1 };
        command.Options.Add(id);
        command.Options.Add(append);
        command.Options.Add(years);
        var (profile, output) = Common(command);
        command.SetAction((parseResult, cancellationToken) => RunAsync(parseResult, profile, async session =>
        {
            var request = JsonSerializer.SerializeToElement(new Dictionary<string, object?>
            {
                ["displayName"] = "reset",
                ["endDateTime"] = DateTimeOffset.UtcNow.AddYears(Math.Max(1, parseResult.GetValue(years))),
                ["append"] = parseResult.GetValue(append),
            }, CliJsonContext.Default.Options.GetTypeInfo(typeof(Dictionary<string, object?>)));
            var spId = parseResult.GetValue(id)!;
            var body = await session.SendAsync(HttpMethod.Post, $"{Collection(session)}/{Uri.EscapeDataString(spId)}/passwordCredentials", request, cancellationToken);
            var result = AzLike(session, spId, null, body.GetProperty("secretText").GetString());
            await CliOptions.WriteAsync(parseResult.InvocationConfiguration.Output, result, parseResult.GetValue(output), "appId", "tenant");
        }));
        return command;
    }

    /// <summary>What `az ad sp create-for-rbac` / `credential reset` print: appId, displayName, password, tenant.</summary>
    private static JsonElement AzLike(CliSession session, string? appId, string? displayName, string? password) =>
        JsonSerializer.SerializeToElement(new Dictionary<string, string?>
        {
            ["appId"] = appId,
            ["displayName"] = displayName,
            ["password"] = password,
            ["tenant"] = session.Profile.TenantId,
        }, CliJsonContext.Default.Options.GetTypeInfo(typeof(Dictionary<string, string?>)));

    private static Option<string> IdOption() => new("--id") { Description = "App id or object id.", HelpName = "ID", Required = true };

    private static (Option<string> Profile, Option<OutputFormat> Output) Common(Command command)
    {
        var profile = CliOptions.Profile();
        var output = CliOptions.Output();
        command.Options.Add(profile);
        command.Options.Add(output);
        return (profile, output);
    }

    private static string Collection(CliSession session) => $"{Uri.EscapeDataString(session.Profile.TenantId)}/ironclad/servicePrincipals";

    private static Task<int> RunAsync(ParseResult parseResult, Option<string> profile, Func<CliSession, Task> action) =>
        CliOptions.RunAsync(parseResult.InvocationConfiguration.Error, async () =>
        {
            using var session = CliSession.Open(CliProfile.ResolveDirectory(parseResult.GetValue(profile)));
            await action(session);
            return ExitCodes.Success;
        });
}
