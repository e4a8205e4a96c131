// The loop condition of the host's periodic background services (vault sweep, key maintenance,
// platform-key rotation). Invariant: a stop of the server ends the loop quietly — false, never an
// OperationCanceledException — also when it stops during startup.
namespace Ironclad.Host.Server;

internal static class PeriodicTicks
{
    /// <summary>True at the next tick; false once the server is stopping or the timer was disposed.</summary>
    public static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(timer);
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
