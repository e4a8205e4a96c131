// The process's one logger factory: console, one line per event, UTC timestamps, scopes included,
// text or JSON. Created before the web host so start-up steps (data directory, TLS) log the same
// way, then handed to the host; disposing it flushes the console queue before the process exits.
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Ironclad.Host.Logging;

internal static class HostLogging
{
    private const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";

    public static ILoggerFactory CreateFactory(LogFormat format) => LoggerFactory.Create(logging =>
    {
        logging.SetMinimumLevel(LogLevel.Information);
        // ASP.NET Core logs every request at Information; keep its warnings and errors (unhandled
        // exceptions, TLS handshake failures are Debug) and the lifetime events ("Now listening").
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        logging.AddFilter("System", LogLevel.Warning);
        // The generic host logs a failed start with its stack at Error; ServerRunner reports start
        // failures itself (expected ones as one sentence, bugs with the stack), so once is enough.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        switch (format)
        {
            case LogFormat.Json:
                logging.AddJsonConsole(options =>
                {
                    options.IncludeScopes = true;
                    options.UseUtcTimestamp = true;
                    options.TimestampFormat = TimestampFormat.TrimEnd();
                    options.JsonWriterOptions = new() { Indented = false };
                });
                break;
            default:
                logging.AddSimpleConsole(options =>
                {
                    options.SingleLine = true;
                    options.IncludeScopes = true;
                    options.UseUtcTimestamp = true;
                    options.TimestampFormat = TimestampFormat;
                    options.ColorBehavior = LoggerColorBehavior.Default;
                });
                break;
        }
    });
}
