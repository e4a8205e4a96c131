// The shape every management command of the CLI shares (`group`, `role`, `keyvault`, `monitor`):
// `--output json|table` and `--profile FILE`, a fresh token from the saved login, and one rule for
// failures — the service's error code and message on stderr, exit 1; a bad command line exits 2
// before any call is made. Leaf commands only build requests and choose table columns.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;

namespace Ironclad.Host.Commands.Cli;

/// <summary>What a leaf command's action gets: its parse result and an authenticated connection.</summary>
internal sealed class CliInvocation(ParseResult parseResult, ArmConnection connection)
{
    public ParseResult ParseResult { get; } = parseResult;

    public ArmConnection Connection { get; } = connection;

    public string Subscription => Connection.Profile.SubscriptionId is { Length: > 0 } subscription
        ? subscription
        : throw new CliException("NoSubscription", "This login has no subscription: run 'ironclad login' with --subscription.");

    public T Value<T>(Option<T> option) => ParseResult.GetValue(option)!;
}

internal static class CliCommand
{
    /// <summary>A leaf command: <paramref name="action"/> returns what to print (null: nothing).</summary>
    public static Command Leaf(
        string name, string description, IEnumerable<Option> options, IReadOnlyList<Column> columns,
        Func<CliInvocation, CancellationToken, Task<JsonNode?>> action)
    {
        var output = OutputOption();
        var profile = ProfileOption();
        var command = new Command(name, description);
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.Options.Add(output);
        command.Options.Add(profile);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            try
            {
                var profilePath = parseResult.GetValue(profile) is { Length: > 0 } path ? path : CliProfile.DefaultPath;
                using var connection = ArmConnection.Open(CliProfile.Load(profilePath));
                var result = await action(new CliInvocation(parseResult, connection), cancellationToken);
                if (result is not null)
                {
                    CliOutput.Write(parseResult.InvocationConfiguration.Output, parseResult.GetValue(output), result, columns);
                }

                return ExitCodes.Success;
            }
            catch (CliException e)
            {
                await error.WriteLineAsync($"ironclad: error: {e.Code}: {e.Message}");
                return e.StatusCode == 404 ? ExitCodes.NotFound : ExitCodes.Failure;
            }
        });
        return command;
    }

    public static Command Group(string name, string description, params Command[] subcommands)
    {
        var command = new Command(name, description);
        foreach (var subcommand in subcommands)
        {
            command.Subcommands.Add(subcommand);
        }

        return command;
    }

    public static Option<string> Required(string name, string alias, string description) =>
        new(name, alias) { Description = description, Required = true };

    public static Option<string?> Optional(string name, string description) => new(name) { Description = description };

    public static Option<string[]> Tags() => new("--tags")
    {
        Description = "Tags as KEY=VALUE pairs (space-separated).",
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>KEY=VALUE pairs as a JSON object; a pair without '=' is a usage error reported as CliException.</summary>
    public static JsonObject TagsObject(string[]? pairs)
    {
        var tags = new JsonObject();
        foreach (var pair in pairs ?? [])
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException("InvalidArgument", $"Tag '{pair}' is not KEY=VALUE.");
            }

            tags[pair[..equals]] = pair[(equals + 1)..];
        }

        return tags;
    }

    private static Option<OutputFormat> OutputOption() => new("--output", "-o")
    {
        Description = "json (default) or table.",
        DefaultValueFactory = _ => OutputFormat.Json,
    };

    private static Option<string?> ProfileOption() => new("--profile")
    {
        Description = "Login profile to use (default ~/.ironclad/profile.json, or IRONCLAD_PROFILE).",
        HelpName = "FILE",
    };
}
