import { Component, type ErrorInfo, type ReactNode } from 'react';

interface State {
  error: Error | null;
}

/**
 * The page never goes blank and never shows a stack trace: a render error becomes a plain message with a
 * way back. The details go to the console for developers.
 */
export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('TIS Lab UI error:', error, info.componentStack);
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div
        role="alert"
        className="mx-auto mt-16 max-w-xl rounded-lg border border-red-300 bg-red-50 p-6 text-red-900"
      >
        <h1 className="text-lg font-semibold">TIS Lab hit a problem and stopped drawing this view.</h1>
        <p className="mt-2 text-sm">What happened: {this.state.error.message || 'an unexpected error'}.</p>
        <p className="mt-2 text-sm">Reload the page to start again; your theme setting is kept.</p>
        <button
          type="button"
          className="mt-4 rounded bg-red-700 px-3 py-1.5 text-sm text-white"
          onClick={() => location.reload()}
        >
          Reload
        </button>
      </div>
    );
  }
}
